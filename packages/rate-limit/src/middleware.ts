import type { Events, Exchange, Middleware, Problem, RateLimitEventMap } from '@sturdy/core'
import { respondProblem, routeMatcher } from '@sturdy/core'
import type { RateLimitDecision } from './algorithm.ts'
import { clientIp } from './client-ip.ts'
import type { RateLimitHeaders } from './headers.ts'
import { headerWriter } from './headers.ts'
import type { RateLimiter, RateLimiterOptions } from './rate-limiter.ts'
import { rateLimiter } from './rate-limiter.ts'

/** Options of `rateLimit`. */
export interface RateLimitOptions {
  /**
   * The limiter, or options to build one (algorithm, store, name).
   * @default rateLimiter({ name: 'http-server' }) (100 requests per sliding minute, in memory)
   */
  limiter?: RateLimiter | RateLimiterOptions
  /**
   * Names the quota a request spends from: a client address, a user, an API key, a
   * route, or a mix. `undefined` lets the request through unlimited (and without headers).
   * @default clientIp() (the connection's peer address; no proxy trusted)
   */
  key?: (ex: Exchange) => string | undefined
  /**
   * Only requests matching one of these route patterns are limited (core `routeMatcher`
   * syntax: `POST /login`, `/api/*`, `GET /users/:id`); the rest pass unlimited.
   * @default every request
   */
  routes?: readonly string[]
  /** Units a request costs, a whole number ≥ 0. @default 1 */
  cost?: (ex: Exchange) => number
  /** Which `RateLimit` header fields to send. @default 'draft-10' */
  headers?: RateLimitHeaders
  /**
   * Asked after the request ran: `true` gives its units back, so it does not count (for
   * instance `(ex) => ex.status >= 500` so server failures cost clients nothing).
   * @default never
   */
  refundWhen?: (ex: Exchange) => boolean
}

/** The middleware, observable through its limiter's events. */
export type RateLimitMiddleware = Middleware & {
  readonly kind: 'rate-limit'
  readonly name: string
  readonly events: Events<RateLimitEventMap>
  /** The limiter behind the middleware. */
  readonly limiter: RateLimiter
}

/** The IETF problem type for a request over its quota (draft-ietf-httpapi-ratelimit-headers §5.1). */
export const QUOTA_EXCEEDED_TYPE = 'https://iana.org/assignments/http-problem-types#quota-exceeded'

/**
 * Server middleware that limits requests per key. Before the handler runs it spends the
 * request's cost from its key's quota: within quota, the request continues with
 * `RateLimit-Policy` / `RateLimit` headers (set before `next()`, where they are cheap);
 * over it, the handler never runs and the client gets 429 `application/problem+json`
 * (the IETF `quota-exceeded` type, naming the violated policy) with `Retry-After`.
 *
 * Client addresses come from the connection, never from `X-Forwarded-For`, unless
 * `key: clientIp({ trustProxy })` says which proxies to believe.
 *
 * @param options see `RateLimitOptions`
 * @returns a named middleware that also exposes `kind`, `name`, `events` and `limiter`
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { rateLimit, slidingWindow } from '@sturdy/rate-limit'
 *
 * const app = new Hono().use(
 *   sturdy(rateLimit({ limiter: { name: 'api', algorithm: slidingWindow({ limit: 100 }) } })),
 * )
 * app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }))
 * // RateLimit-Policy: "api";q=100;w=60
 * // RateLimit: "api";r=99;t=1
 */
export function rateLimit(options: RateLimitOptions = {}): RateLimitMiddleware {
  const limiter = isLimiter(options.limiter)
    ? options.limiter
    : rateLimiter({ name: 'http-server', ...options.limiter })
  const keyOf = options.key ?? clientIp()
  const costOf = options.cost
  const refundWhen = options.refundWhen
  const scope =
    options.routes === undefined
      ? undefined
      : routeMatcher(options.routes.map((pattern) => [pattern, true] as const))
  const { algorithm, name } = limiter
  const write = headerWriter(
    options.headers ?? 'draft-10',
    name,
    algorithm.limit,
    algorithm.windowMs,
  )

  const middleware = async function rateLimit(ex: Exchange, next: () => Promise<void>) {
    if (scope !== undefined && scope.match(ex.method, ex.path) === undefined) return next()
    const key = keyOf(ex)
    if (key === undefined) return next()
    const cost = costOf === undefined ? 1 : costOf(ex)
    const pending = limiter.consume(key, cost)
    const decision = pending instanceof Promise ? await pending : pending
    if (write !== undefined) write(decision, ex)
    if (!decision.allowed) {
      respondProblem(ex, quotaExceeded(name, decision))
      return
    }
    await next()
    // Not awaited: the answer need not wait for the store; a refund never rejects.
    if (refundWhen?.(ex) === true) void limiter.refund(key, cost)
  }
  // `name` stays the function's own ('rateLimit') so stack traces keep it; events carry
  // the limiter's name.
  return Object.assign(middleware, { kind: 'rate-limit' as const, events: limiter.events, limiter })
}

function quotaExceeded(name: string, decision: RateLimitDecision): Problem {
  const problem: Problem = {
    type: QUOTA_EXCEEDED_TYPE,
    title: 'Too Many Requests',
    status: 429,
    code: 'RATE_LIMITED',
    detail: `Rate limit "${name}" exceeded`,
    'violated-policies': [name],
  }
  // Finite only: a cost above the limit never fits, and gets no Retry-After to wait for.
  if (Number.isFinite(decision.retryAfterMs)) problem.retryAfterMs = decision.retryAfterMs
  return problem
}

function isLimiter(value: RateLimiter | RateLimiterOptions | undefined): value is RateLimiter {
  return value !== undefined && typeof (value as RateLimiter).consume === 'function'
}
