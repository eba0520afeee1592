import type { KeyBreakerOptions } from '@sturdy/breaker'
import type { ClientInterceptor, Clock, Policy, Random, RequestValues } from '@sturdy/core'
import type {
  AdaptiveThrottleOptions,
  ConcurrencyLimiterOptions,
  LimitAlgorithm,
} from '@sturdy/limit'
import type { HedgeOptions, RetryBudget, RetryBudgetOptions, RetryOptions } from '@sturdy/retry'
import type { StampOptions, TimerWheel } from '@sturdy/timeout'
import type { Dispatcher, Pool } from 'undici'

/** An origin's circuit breaker: `@sturdy/breaker`'s options, and how deadlines count. */
export interface ClientBreakerOptions extends KeyBreakerOptions {
  /**
   * An attempt that ends on the request's deadline counts as a failure only when it had
   * at least this long left when the breaker let it through; with less it counts as
   * neither (the caller's budget was all but spent — that says nothing about the origin,
   * and a few such callers must not open the circuit for everyone). An attempt's own
   * timeout (`attemptTimeoutMs`) always counts.
   * @default 50 (`MIN_FAIR_BUDGET_MS` of `@sturdy/breaker`)
   */
  minBudgetMs?: number
}

/**
 * Retry options of the client: `@sturdy/retry`'s, less what the client decides per call
 * (which failures and statuses are safe to repeat, the deadline, the budget, the clock).
 */
export interface ClientRetryOptions
  extends Omit<
    RetryOptions,
    | 'name'
    | 'retryOn'
    | 'retryOnResult'
    | 'consumeAttempt'
    | 'maxFreeRetries'
    | 'deadline'
    | 'budget'
    | 'discardResult'
    | 'clock'
    | 'random'
  > {
  /**
   * Response statuses worth another attempt (for requests that may be repeated).
   * @default [408, 429, 500, 502, 503, 504]
   */
  statuses?: readonly number[]
}

/**
 * Hedging options of the client: `@sturdy/retry`'s `hedge()` options, less what the
 * client decides itself (which outcomes are acceptable, the budget, pushback, the clock).
 */
export type ClientHedgeOptions = Pick<
  HedgeOptions,
  'maxHedgedAttempts' | 'delayMs' | 'percentile' | 'latencyWindow' | 'minSamples' | 'minDelayMs'
>

/**
 * Adaptive throttling options of the client: `@sturdy/limit`'s `adaptiveThrottle()`
 * options, less what the client decides (what a rejection is, the clock and random).
 */
export type ClientThrottleOptions = Pick<AdaptiveThrottleOptions, 'k' | 'windowMs' | 'buckets'>

/** The client's concurrency limit of an origin: `@sturdy/limit`'s `concurrencyLimiter()`. */
export interface ClientConcurrencyLimitOptions
  extends Pick<ConcurrencyLimiterOptions, 'maxQueue' | 'queueTimeoutMs' | 'retryAfterMs'> {
  /**
   * The limit: a number (a fixed bulkhead), or a function that makes each origin its own
   * adaptive algorithm (`() => vegasLimit({ maxLimit: 200 })`); an algorithm learns one
   * origin's latency, so it is never shared between origins.
   * @default () => gradientLimit()
   */
  limit?: number | (() => LimitAlgorithm)
}

/** Settings of one origin (`scheme://host:port`): pool, timeouts, policies, propagation. */
export interface OriginOptions {
  /**
   * Headers sent on every call to the origin; per-call headers win. (fetch's `HeadersInit`,
   * named through the `RequestInit` global so the declarations need no DOM lib.)
   * @default none
   */
  headers?: RequestInit['headers']
  /** Most connections open to the origin at once. @default 64 */
  connections?: number
  /**
   * Calls waiting for a connection when all are busy; one more fails at once with
   * `PoolSaturatedError` (503, never sent, not retried). Waiting counts against the
   * attempt's timeout. @default 1024
   */
  maxQueued?: number
  /** Time to establish a connection (TCP + TLS). @default 5000 */
  connectTimeoutMs?: number
  /** Time from sending the request to the response headers. @default 10000 */
  headersTimeoutMs?: number
  /** Longest pause between two chunks of the response body. @default 10000 */
  bodyTimeoutMs?: number
  /**
   * How long an idle connection is kept for reuse; keep it below the server's idle
   * timeout (Node's default is 5 s). A server's `Keep-Alive: timeout` hint can only
   * shorten it. @default 4000
   */
  keepAliveTimeoutMs?: number
  /**
   * Budget of one attempt, from dispatch (queue wait included) to the response headers
   * (`fetch`) or the end of the body (`json`). @default 15000
   */
  attemptTimeoutMs?: number
  /**
   * Retries: options for the client's `@sturdy/retry` policy, your own `Policy` (it then
   * decides alone what to repeat), or `false` for none. @default {} (3 attempts, full jitter)
   */
  retry?: ClientRetryOptions | Policy | false
  /**
   * The origin's retry budget (Finagle-style, shared by every call to the origin), a
   * `RetryBudget` to share with other clients, or `false` for none. @default {} (20% + 10/s)
   */
  retryBudget?: RetryBudgetOptions | RetryBudget | false
  /**
   * Hedged requests (`@sturdy/retry`'s `hedge()`): when an idempotent call (see
   * `CallOptions.idempotent`) has no answer after the hedging delay, another attempt
   * starts in parallel; the first acceptable answer wins and the others are aborted
   * (their connections closed). For a hedged call the hedge replaces the retry: a failed
   * attempt starts the next one at once, and `maxHedgedAttempts` bounds the extra
   * attempts. Every hedge withdraws from the origin's `retryBudget`; with it spent, none
   * is sent (with `retryBudget: false`, only `maxHedgedAttempts` bounds them). `false`:
   * no hedging.
   * @default false
   */
  hedge?: ClientHedgeOptions | false
  /**
   * Google SRE's client-side adaptive throttling of the origin (`@sturdy/limit`'s
   * `adaptiveThrottle()`): when the origin accepted fewer than 1/k of the attempts sent
   * in the window (timeouts, connection failures, 429 and 503 are refusals), attempts are
   * refused locally with `ThrottledError` (503, not sent, not retried), with probability
   * `max(0, (requests − k·accepts) / (requests + 1))`. `false`: none.
   * @default false
   */
  throttle?: ClientThrottleOptions | false
  /**
   * A concurrency limit of the origin (`@sturdy/limit`'s `concurrencyLimiter()`): at most
   * `limit` attempts in flight, adapted from observed latency by default; beyond it (and
   * a full `maxQueue`) an attempt fails at once with `OverloadedError` (503, not sent,
   * not retried). `false`: none (only `connections` and `maxQueued` bound the pool).
   * @default false
   */
  concurrencyLimit?: ClientConcurrencyLimitOptions | false
  /**
   * The origin's circuit breaker (`@sturdy/breaker` options, and `minBudgetMs`), or
   * `false` for none.
   * @default { openMs: 10000, minBudgetMs: 50 } (gobreaker's trip: more than 5 consecutive failures)
   */
  breaker?: ClientBreakerOptions | false
  /**
   * Which deadline headers carry each attempt's budget to the next hop, or `false` for
   * none. @default { header: 'x-request-timeout-ms' }
   */
  deadlineHeaders?: StampOptions | false
  /** Time kept back from the deadline for the answer to travel home. @default 5 */
  marginMs?: number
  /** Most response bytes `json()` buffers (and that an error body is read for). @default 8388608 (8 MiB) */
  maxResponseBytes?: number
  /**
   * Most request-body bytes buffered to make a Blob, FormData or `Request` body
   * replayable for retries; larger bodies (and streams) are sent once. @default 1048576 (1 MiB)
   */
  maxReplayBytes?: number
  /** Header the inbound request id is forwarded in, or `false`. @default 'x-request-id' */
  requestIdHeader?: string | false
}

/** Options of `createClient()`: defaults for every origin, plus client-wide settings. */
export interface ClientOptions extends OriginOptions {
  /** Resolves relative URLs (`client.json('/users/1')`). @default none (absolute URLs only) */
  baseUrl?: string | URL
  /** Per-origin settings, keyed by origin (`http://inventory:8080`), over the defaults. @default {} */
  origins?: Readonly<Record<string, OriginOptions>>
  /** Wrap every attempt, outermost first (`clientSpans()`, `clientMetrics()`, ...). @default [] */
  interceptors?: readonly ClientInterceptor[]
  /** Most origins kept (pools, breakers); the least recently used is closed beyond it. @default 100 */
  maxOrigins?: number
  /**
   * Redirects: `follow` (up to 20, as fetch), `manual` (return the 3xx), `error`.
   * @default 'follow'
   */
  redirect?: NonNullable<RequestInit['redirect']>
  /** Creates the dispatcher of an origin (tests, proxies). @default `new Pool(origin, options)` */
  dispatcher?: (origin: string, options: Pool.Options) => Dispatcher
  /** Time source of deadlines and timeouts; the one `deadline()` uses. @default systemClock */
  clock?: Clock
  /** Timer wheel for attempt timeouts; share the one `deadline()` uses. @default a private wheel on `clock` */
  wheel?: TimerWheel
  /** Random source for retry jitter. @default Math.random */
  random?: Random
}

/** Per-call options, on top of fetch's `RequestInit`. */
export interface CallOptions {
  /**
   * The inbound request's values — a Hono `Context`, `c.var`, `res.locals`,
   * `request.sturdy` or `valuesOf(req)` — for its signal, deadline, trace, request id.
   * @default none
   */
  context?: RequestValues
  /** Total budget of this call, retries included; the context's deadline still applies. @default none */
  timeoutMs?: number
  /** Overrides the origin's `attemptTimeoutMs`. */
  attemptTimeoutMs?: number
  /** Overrides the origin's `headersTimeoutMs`. */
  headersTimeoutMs?: number
  /** Overrides the origin's `bodyTimeoutMs`. */
  bodyTimeoutMs?: number
  /** `false`: one attempt only. @default the origin's retry */
  retry?: false
  /**
   * Whether repeating the call is safe. @default true for GET, HEAD, OPTIONS, TRACE,
   * PUT, DELETE and any call with an `Idempotency-Key` header
   */
  idempotent?: boolean
  /** A JSON request body (sets `content-type: application/json`). @default none */
  json?: unknown
}

/** What `client.fetch()` takes: fetch's `RequestInit` plus `CallOptions`. */
export type ClientRequestInit = RequestInit & CallOptions

/** Resolved settings of one origin. */
export interface OriginSettings {
  readonly headers: Readonly<Record<string, string>>
  readonly connections: number
  readonly maxQueued: number
  readonly connectTimeoutMs: number
  readonly headersTimeoutMs: number
  readonly bodyTimeoutMs: number
  readonly keepAliveTimeoutMs: number
  readonly attemptTimeoutMs: number
  readonly retry: ClientRetryOptions | Policy | false
  readonly retryBudget: RetryBudgetOptions | RetryBudget | false
  readonly hedge: ClientHedgeOptions | false
  readonly throttle: ClientThrottleOptions | false
  readonly concurrencyLimit: ClientConcurrencyLimitOptions | false
  readonly breaker: ClientBreakerOptions | false
  readonly deadlineHeaders: StampOptions | false
  readonly marginMs: number
  readonly maxResponseBytes: number
  readonly maxReplayBytes: number
  readonly requestIdHeader: string | false
}

/** The defaults, written once. */
export const CLIENT_DEFAULTS: {
  readonly connections: 64
  readonly maxQueued: 1024
  readonly connectTimeoutMs: 5000
  readonly headersTimeoutMs: 10000
  readonly bodyTimeoutMs: 10000
  readonly keepAliveTimeoutMs: 4000
  readonly attemptTimeoutMs: 15000
  readonly marginMs: 5
  readonly maxResponseBytes: 8388608
  readonly maxReplayBytes: 1048576
  readonly requestIdHeader: 'x-request-id'
  readonly maxOrigins: 100
  readonly openMs: 10000
  readonly statuses: readonly number[]
} = {
  connections: 64,
  maxQueued: 1024,
  connectTimeoutMs: 5000,
  headersTimeoutMs: 10000,
  bodyTimeoutMs: 10000,
  keepAliveTimeoutMs: 4000,
  attemptTimeoutMs: 15000,
  marginMs: 5,
  maxResponseBytes: 8388608,
  maxReplayBytes: 1048576,
  requestIdHeader: 'x-request-id',
  maxOrigins: 100,
  openMs: 10000,
  statuses: Object.freeze([408, 429, 500, 502, 503, 504]),
}

/**
 * Merges an origin's options over the client's and checks them.
 *
 * @param base the client options (defaults for every origin)
 * @param own the origin's own options
 * @returns resolved settings
 */
export function resolveOrigin(base: OriginOptions, own: OriginOptions | undefined): OriginSettings {
  const o = own === undefined ? base : { ...base, ...own }
  const s: OriginSettings = {
    headers: { ...headerRecord(base.headers), ...headerRecord(own?.headers) },
    connections: o.connections ?? CLIENT_DEFAULTS.connections,
    maxQueued: o.maxQueued ?? CLIENT_DEFAULTS.maxQueued,
    connectTimeoutMs: o.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs,
    headersTimeoutMs: o.headersTimeoutMs ?? CLIENT_DEFAULTS.headersTimeoutMs,
    bodyTimeoutMs: o.bodyTimeoutMs ?? CLIENT_DEFAULTS.bodyTimeoutMs,
    keepAliveTimeoutMs: o.keepAliveTimeoutMs ?? CLIENT_DEFAULTS.keepAliveTimeoutMs,
    attemptTimeoutMs: o.attemptTimeoutMs ?? CLIENT_DEFAULTS.attemptTimeoutMs,
    retry: o.retry ?? {},
    retryBudget: o.retryBudget ?? {},
    hedge: o.hedge ?? false,
    throttle: o.throttle ?? false,
    concurrencyLimit: o.concurrencyLimit ?? false,
    breaker: o.breaker ?? {},
    deadlineHeaders: o.deadlineHeaders ?? {},
    marginMs: o.marginMs ?? CLIENT_DEFAULTS.marginMs,
    maxResponseBytes: o.maxResponseBytes ?? CLIENT_DEFAULTS.maxResponseBytes,
    maxReplayBytes: o.maxReplayBytes ?? CLIENT_DEFAULTS.maxReplayBytes,
    requestIdHeader: o.requestIdHeader ?? CLIENT_DEFAULTS.requestIdHeader,
  }
  positiveInteger('connections', s.connections)
  nonNegative('maxQueued', s.maxQueued)
  for (const key of [
    'connectTimeoutMs',
    'headersTimeoutMs',
    'bodyTimeoutMs',
    'keepAliveTimeoutMs',
    'attemptTimeoutMs',
  ] as const) {
    const v = s[key]
    if (!(v > 0)) throw new RangeError(`${key} must be > 0 (Infinity for none), got ${v}`)
  }
  const cl = s.concurrencyLimit
  if (cl !== false && cl.limit !== undefined && typeof cl.limit !== 'number') {
    if (typeof cl.limit !== 'function') {
      throw new TypeError(
        'concurrencyLimit.limit must be a number or a function that makes an algorithm per origin (() => gradientLimit()), not a shared algorithm',
      )
    }
  }
  if (s.breaker !== false && s.breaker.minBudgetMs !== undefined) {
    nonNegative('breaker.minBudgetMs', s.breaker.minBudgetMs)
  }
  nonNegative('marginMs', s.marginMs)
  nonNegative('maxResponseBytes', s.maxResponseBytes)
  nonNegative('maxReplayBytes', s.maxReplayBytes)
  return s
}

function positiveInteger(name: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 1))
    throw new RangeError(`${name} must be an integer >= 1, got ${v}`)
}

function nonNegative(name: string, v: number): void {
  if (!(v >= 0)) throw new RangeError(`${name} must be >= 0, got ${v}`)
}

/**
 * Any `HeadersInit` as a record with lower-case names (repeated names joined by `, `).
 *
 * @param init headers in any fetch shape, or undefined
 * @returns a fresh record
 */
export function headerRecord(init: RequestInit['headers']): Record<string, string> {
  const out: Record<string, string> = {}
  if (init === undefined || init === null) return out
  if (typeof (init as Headers).forEach === 'function' && !Array.isArray(init)) {
    ;(init as Headers).forEach((value, name) => {
      out[name] = value
    })
    return out
  }
  const entries = Array.isArray(init) ? init : Object.entries(init)
  for (const [name, value] of entries as Array<[string, string]>) {
    if (value === undefined) continue
    const key = name.toLowerCase()
    const v = String(value)
    out[key] = out[key] === undefined ? v : `${out[key]}, ${v}`
  }
  return out
}
