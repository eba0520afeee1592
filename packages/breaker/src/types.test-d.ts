/** Type tests (checked by `tsc`): the public shapes satisfy the core contracts. */
import type { Middleware, ObservablePolicy, Policy } from '@sturdy/core'
import { compose } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import type { BreakerMiddleware, CircuitBreaker, KeyedBreaker } from './index.ts'
import { breakerMiddleware, circuitBreaker, keyedBreaker } from './index.ts'

const breaker = circuitBreaker()
breaker satisfies Policy
breaker satisfies ObservablePolicy
breaker satisfies CircuitBreaker

const set = keyedBreaker()
set satisfies ObservablePolicy
set satisfies KeyedBreaker
set.get('k') satisfies Policy

const mw = breakerMiddleware()
mw satisfies Middleware
mw satisfies ObservablePolicy
mw satisfies BreakerMiddleware

// Mounts in Hono and composes with other policies.
new Hono().use(sturdy(mw))
compose(breaker, set.get('other')) satisfies Policy

// The two-step API only takes the three outcomes.
// @ts-expect-error not an outcome
breaker.allow()('maybe')
