// Context for the fragments in packages/logger/README.md (see consumers/README.md).

import { circuitBreaker } from '@sturdy/breaker'
import { sturdy } from '@sturdy/hono'
import { requestLogger } from '@sturdy/logger'
import { retry } from '@sturdy/retry'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
import { pino } from 'pino'

const logger = pino()
const app = new Hono()
const paymentsBreaker = circuitBreaker({ name: 'payments' })
const paymentsRetry = retry({ name: 'payments' })
