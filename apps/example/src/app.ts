import { circuitBreaker } from '@sturdy/breaker'
import type { Middleware, Policy } from '@sturdy/core'
import { compose, PROBLEM_CONTENT_TYPE, renderProblem, statusTitle } from '@sturdy/core'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import { logPolicyEvents, requestLogger } from '@sturdy/logger'
import { httpMetrics, metricsEndpoint, policyMetrics } from '@sturdy/metrics'
import { retry, retryBudget } from '@sturdy/retry'
import { deadline, timeout } from '@sturdy/timeout'
import { traceEvents, tracing } from '@sturdy/tracing'
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { Logger } from 'pino'
import { Registry } from 'prom-client'
import { z } from 'zod'
import { readJson } from './body.ts'
import type { UserStore } from './store.ts'

/** What the example service is built from. */
export interface AppOptions {
  store: UserStore
  /** Root pino logger; every request gets a child of it. */
  logger: Logger
  /** Where metrics go. @default a new Registry */
  registry?: Registry
  /** The whole-request budget. @default 2000 */
  budgetMs?: number
  /**
   * Aborted when in-flight work must stop (`@sturdy/lifecycle`'s `signal`, at the drain
   * bound): requests still running get 503 and their work is cancelled.
   */
  shutdown?: AbortSignal
  /**
   * Mounted first: `@sturdy/lifecycle`'s middleware (`/healthz`, `/readyz`, requests
   * tracked for the drain), so probes never reach metrics, logs or tracing.
   */
  lifecycle?: Middleware
}

/** The service and what it needs at shutdown. */
export interface Service {
  /** The Hono app: serve `app.fetch`, or call `app.request()` in tests. */
  app: Pick<Hono, 'fetch' | 'request'>
  registry: Registry
  /** Unsubscribes the policy observers. */
  close(): void
}

const NewUser = z.object({
  name: z.string().trim().min(1).max(100),
  email: z.email(),
})

/**
 * The example service: the article's user routes plus a health check, with the whole
 * Sturdy stack — tracing, request logging, RED metrics on `/metrics` and a request
 * deadline — and the user store behind resilience policies. Every error answers RFC 9457
 * problem+json; a crash never shows its stack.
 */
export function createApp(options: AppOptions): Service {
  const { store, logger } = options
  const registry = options.registry ?? new Registry()

  // Reads retry (jittered, budgeted) through a breaker, each attempt bounded to 250 ms;
  // writes are not idempotent, so they get the breaker and the timeout but no retry.
  const breaker = circuitBreaker({ name: 'user-store' })
  const perAttempt = timeout(250, { name: 'user-store' })
  const reads = retry({ name: 'user-store', baseDelayMs: 20, budget: retryBudget() })
  const readPolicy: Policy = compose(reads, breaker, perAttempt)
  const writePolicy: Policy = compose(breaker, perAttempt)
  const requestDeadline = deadline({
    budgetMs: options.budgetMs ?? 2000,
    shutdown: options.shutdown,
  })

  const observed = [breaker, perAttempt, reads, requestDeadline]
  const metrics = policyMetrics({ registry })
  const disposers = [
    ...observed.map((p) => metrics.observe(p)),
    logPolicyEvents(observed, logger),
    traceEvents(observed),
  ]

  const base = new Hono()
  if (options.lifecycle !== undefined) base.use(sturdy(options.lifecycle))
  const app = base.use(
    sturdy(
      metricsEndpoint({ registry }),
      tracing(),
      requestLogger({ logger }),
      httpMetrics({ registry }),
      requestDeadline,
    ),
  )

  // Without a lifecycle (tests), a plain liveness route; with one, it answers first.
  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  app.get('/users/:id', async (c) => {
    const id = c.req.param('id')
    const user = await readPolicy.execute(({ signal }) => store.get(id, signal), c.var.signal)
    if (user === undefined) return problem(c, 404, `No user with id ${id}`)
    return c.json(user)
  })

  app.post('/users', async (c) => {
    const input = await readJson(c, NewUser, { limit: 16_384 })
    const user = await writePolicy.execute(
      ({ signal }) => store.create(input, signal),
      c.var.signal,
    )
    c.var.log.info({ user_id: user.id }, 'user created')
    c.header('location', `/users/${user.id}`)
    return c.json(user, 201)
  })

  app.notFound((c) => problem(c, 404, `No route for ${c.req.method} ${c.req.path}`))
  app.onError(problemErrorHandler())

  return {
    app,
    registry,
    close: () => {
      for (const dispose of disposers) dispose()
    },
  }
}

function problem(c: Context, status: 404, detail: string): Response {
  return c.body(renderProblem({ title: statusTitle(status), status, detail }), status, {
    'content-type': PROBLEM_CONTENT_TYPE,
  })
}
