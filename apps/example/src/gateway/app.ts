import { randomUUID } from 'node:crypto'
import type { Middleware } from '@sturdy/core'
import { PROBLEM_CONTENT_TYPE, ValidationError } from '@sturdy/core'
import type { ConcurrencyLimitMiddleware } from '@sturdy/limit'
import { concurrencyLimit, gradientLimit } from '@sturdy/limit'
import { clientIp, rateLimit, rateLimiter, tokenBucket } from '@sturdy/rate-limit'
import type { Context, Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { z } from 'zod'
import type { Database } from '../db/database.ts'
import { readJson } from '../platform/body.ts'
import type { AppEnv, ServiceContext } from '../platform/service.ts'
import { problem, serviceApp } from '../platform/service.ts'
import { statusRoutes } from '../status/routes.ts'
import type { Downstream } from './downstream.ts'
import { idempotencyStore, requestHash } from './idempotency.ts'
import { OrderInput, processOrder } from './orders.ts'
import type { UsersApi } from './users-api.ts'
import { UserConflict } from './users-api.ts'

/** What the gateway is built from. */
export interface GatewayDeps {
  db: Database
  users: UsersApi
  down: Downstream
  /** Its in-flight limit (`overloadLimit()`): mounted first, and also at the listener. */
  limit: ConcurrencyLimitMiddleware
}

const KEY = /^[\x21-\x7e]{1,200}$/

/** What a new user needs (validated here, before any call). */
export const NewUser = z.object({
  name: z.string().trim().min(1).max(100),
  email: z.email().max(254),
})

/** Throws the 400 for an id that cannot be one (ids are positive whole numbers). */
function checkUserId(id: string): void {
  if (!/^[1-9][0-9]{0,17}$/.test(id)) {
    throw new ValidationError('Invalid user id', [
      { path: 'id', message: 'expected a positive whole number' },
    ])
  }
}

/**
 * The gateway: the public HTTP API. `GET /users/:id` and `POST /users` call the users
 * service; `POST /orders` is the article's processOrder; `/status` is the live status
 * page. Every downstream call goes through `@sturdy/client`.
 */
export function gatewayApp(ctx: ServiceContext, deps: GatewayDeps): Hono<AppEnv> {
  // The order has 5 s of its own; the request gets a little more, to compensate and
  // answer after a failure. A caller's smaller deadline (x-request-timeout-ms) wins.
  const app = serviceApp(ctx, {
    routes: { 'POST /orders': ctx.config.orderDeadlineMs + 1500 },
    front: [deps.limit],
    extra: writeLimit(ctx),
  })
  const orders = idempotencyStore(deps.db)

  app.get('/users/:id', async (c) => {
    const id = c.req.param('id')
    checkUserId(id)
    const user = await deps.users.get(id, c)
    return user === undefined ? problem(c, 404, `No user with id ${id}`) : c.json(user)
  })

  app.post('/users', async (c) => {
    const input = await readJson(c, NewUser, { limit: 16_384 })
    try {
      const user = await deps.users.create(input, c)
      c.header('location', `/users/${user.id}`)
      return c.json(user, 201)
    } catch (error) {
      if (error instanceof UserConflict)
        return problem(c, 409, error.message, { code: 'EMAIL_TAKEN' })
      throw error
    }
  })

  app.post('/orders', async (c) => {
    const key = c.req.header('idempotency-key')
    if (key !== undefined && !KEY.test(key)) {
      throw new ValidationError('Invalid Idempotency-Key', [
        { path: 'Idempotency-Key', message: 'expected 1–200 visible ASCII characters' },
      ])
    }
    const order = await readJson(c, OrderInput, { limit: 32_768 })
    let orderId: string = randomUUID()
    if (key !== undefined) {
      const claim = await orders.claim(key, requestHash(order), c.var.signal)
      if (claim.kind === 'mismatch') {
        return problem(c, 422, 'This Idempotency-Key was already used with a different order', {
          code: 'IDEMPOTENCY_KEY_REUSED',
        })
      }
      if (claim.kind === 'in-progress') {
        return problem(c, 409, 'An order with this Idempotency-Key is being processed', {
          code: 'IDEMPOTENCY_KEY_IN_PROGRESS',
          retryAfterMs: 1000,
        })
      }
      if (claim.kind === 'replay') {
        c.header('idempotent-replayed', 'true')
        return answer(c, claim.response.status, claim.response.body)
      }
      orderId = claim.orderId
    }
    let outcome: Awaited<ReturnType<typeof processOrder>>
    try {
      outcome = await processOrder(
        order,
        orderId,
        { signal: c.var.signal, deadline: c.var.deadline, values: c },
        {
          users: deps.users,
          down: deps.down,
          wheel: ctx.wheel,
          deadlineMs: ctx.config.orderDeadlineMs,
          log: c.var.log,
        },
      )
    } catch (error) {
      // Before any side effect (the user lookup failed): the key is free again.
      if (key !== undefined) await orders.release(key).catch(() => {})
      throw error
    }
    if (key !== undefined) {
      // Stored answers are replayed; a failure that left nothing behind frees the key,
      // so the client's retry with the same key runs the order again.
      await (outcome.status >= 500 && outcome.retryable
        ? orders.release(key)
        : orders.complete(key, { status: outcome.status, body: outcome.body }))
    }
    if (outcome.status === 201) c.var.log.info({ order_id: orderId }, 'order confirmed')
    return answer(c, outcome.status, outcome.body)
  })

  statusRoutes(app, ctx, [
    {
      name: 'users',
      target: ctx.config.urls.users,
      protocol: 'gRPC',
      breaker: () => deps.users.breakers.get(deps.users.breakerKey),
      budget: deps.down.budgets.users,
      retries: deps.users.retries,
    },
    ...(['payments', 'delivery'] as const).map((name) => ({
      name,
      target: deps.down.origins[name],
      protocol: 'HTTP',
      breaker: () => deps.down.client.breakers.get(deps.down.origins[name]),
      budget: deps.down.budgets[name],
      retries: deps.down.client.retries,
      retryName: deps.down.origins[name],
    })),
  ])
  return app
}

/**
 * The gateway's in-flight work, limited adaptively (`@sturdy/limit`'s gradient limit,
 * between 64 and 128 requests at once): when latency climbs — a slow dependency, a
 * saturated CPU — the limit comes down and the excess is refused with 503 `OVERLOADED` +
 * `Retry-After` instead of piling up until every request misses its deadline. The bounds
 * come from where this gateway's throughput stops rising: it serves more with more in
 * flight up to about 64 (its gRPC calls and queries batch: ≈ 650 req/s with 8 clients,
 * 900 with 32, 970 with 64 on 2 cores) and no more with 128. So the floor sits at that
 * knee, and the ceiling at twice it, so what is admitted stays at about 140 ms of work
 * at that capacity (128 / 900 req/s), whatever the gradient reads.
 * - In the reliability suite's overload (2× capacity; 2026-12-03, runs in pairs back to
 *   back), the median round read 90.0–99.7% with 64–128 against 87.2–92.9% with the floor
 *   of 32 and no ceiling, higher in each of four pairs. In rounds where the load generator
 *   sent every arrival, 88.7–108.7% (mean 98%, six rounds) against 74.4–106.2% (mean 92%,
 *   sixteen). In the others, up to 23% of a round's arrivals waited past the generator's
 *   1000 in flight and were not sent (at most 3% with 32), so the gateway saw less than 2×.
 * - 64 with no ceiling let the limit run away to 220–512 and held back up to 45% of a
 *   round's arrivals.
 * - With a floor of 8 the gradient held 13–19 under overload and served 79–89%.
 * - A floor of 50 once let every request in at 2× capacity and answered almost all of them
 *   504, when a refusal still cost ≈ 360 µs behind tracing and logging; the limit is now
 *   mounted first and at the listener, where a refusal is at `node:http`'s own floor.
 * - The queue was 64 until 2026-12-04. Under sustained overload it only added latency
 *   (every shed was `queue-full`, never a queue timeout) and held up to 18,925 of a run's
 *   arrivals back behind the load generator's 1000 in flight. Three pairs of runs of the
 *   suite's overload part, back to back (2026-12-04, capacity 772–1,098 req/s): 16 read
 *   89.6, 88.0 and 92.0% with at most 47 arrivals not sent; 64 read 83.3, 83.9 and 85.7%
 *   with 5,045–18,925.
 * - The default tolerance stays: 2 held 60–140 in flight and read a point or two more
 *   goodput, but only because the latency it let through held back 1–40% of the load
 *   generator's arrivals behind its 256 connections.
 *
 * A short queue (16 requests, 250 ms at most) keeps the freed slots busy between one
 * request and the next; ordinary bursts — 20 keep-alive clients arriving at once — fit in
 * the floor of 64 itself. Beyond the limit and the queue the excess is refused at once,
 * at the listener (`shedEarly()` in system.ts) before Hono sees it. Orders are shed last,
 * the status page first; a request whose deadline is below its route's recent p50 gets
 * 504 at once.
 */
export function overloadLimit(ctx: ServiceContext): ConcurrencyLimitMiddleware {
  const limit = concurrencyLimit({
    name: 'gateway-inflight',
    limit: gradientLimit({ initialLimit: 64, minLimit: 64, maxLimit: 128 }),
    maxQueue: 16,
    queueTimeoutMs: 250,
    routes: [
      // The lifecycle's probes: it answers them before the limit in the app, but the
      // listener's gate (shedEarly, in system.ts) runs first, and must never refuse them.
      { route: '/healthz', priority: 'never' },
      { route: '/readyz', priority: 'never' },
      { route: 'POST /orders', priority: 'critical' },
      { route: 'GET /status', priority: 'sheddable' },
      { route: 'GET /status.json', priority: 'sheddable' },
    ],
  })
  ctx.observe(limit)
  return limit
}

/**
 * Writes (`POST /orders`, `POST /users`) per client address: a token bucket of
 * `RATE_LIMIT_PER_MINUTE` with a burst of a sixth, 429 problem+json with `Retry-After`
 * and the IETF `RateLimit` headers beyond it. With `REDIS_URL` every gateway spends from
 * one quota (`@sturdy/rate-limit`'s Redis store; while Redis is down each decides on its
 * own, a request never fails for it); without, each gateway has its own.
 */
function writeLimit(ctx: ServiceContext): Middleware[] {
  const perMinute = ctx.config.rateLimitPerMinute
  if (perMinute === 0) return []
  const limiter = rateLimiter({
    name: 'gateway-writes',
    algorithm: tokenBucket({
      limit: perMinute,
      windowMs: 60_000,
      burst: Math.max(1, Math.ceil(perMinute / 6)),
    }),
    ...(ctx.shared === undefined ? {} : { store: ctx.shared.rateLimit }),
  })
  ctx.observe(limiter)
  return [
    rateLimit({
      limiter,
      routes: ['POST /orders', 'POST /users'],
      key: clientIp({ trustProxy: ctx.config.trustProxy }),
    }),
  ]
}

/** Answers a stored or fresh order outcome (a problem when ≥ 400). */
function answer(c: Context, status: number, body: unknown): Response {
  const isProblem = status >= 400
  const retryAfterMs =
    isProblem && typeof body === 'object' && body !== null && 'retryAfterMs' in body
      ? Number((body as { retryAfterMs: unknown }).retryAfterMs)
      : Number.NaN
  return c.body(JSON.stringify(body), status as ContentfulStatusCode, {
    'content-type': isProblem ? PROBLEM_CONTENT_TYPE : 'application/json',
    ...(Number.isFinite(retryAfterMs)
      ? { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }
      : {}),
  })
}
