/**
 * @module
 * `@sturdy/limit/node`: Node-only pieces — `shedEarly()`, which refuses overload at the
 * `node:http` listener before the framework sees the request, and overload signals for
 * `concurrencyLimit({ pressure })`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { ConcurrencyLimitMiddleware, EarlyDecision } from './middleware.ts'
import { EARLY } from './middleware.ts'
import type { PressureSignal } from './pressure.ts'
import type { ShedAnswer } from './shed-answer.ts'

/** What `shedEarly()` reads of a request: `node:http`'s `IncomingMessage` (or HTTP/2's compatibility request). */
export interface EarlyRequest {
  readonly method?: string | undefined
  readonly url?: string | undefined
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/** What `shedEarly()` answers through: `node:http`'s `ServerResponse`. */
export interface EarlyResponse {
  writeHead(status: number, headers: Record<string, string>): unknown
  end(body: string): unknown
}

/**
 * Puts `limit` in front of a `node:http` request listener: a request the limit would
 * refuse at once — in-flight work at the limit and the queue full (or none) — is answered
 * there, with the middleware's own 503 problem+json and `Retry-After`, before the
 * listener runs. Everything else goes to the listener, and the middleware mounted in the
 * framework decides as usual (admit, queue, deadline and pressure checks).
 *
 * Why: under overload most requests are refused, and a refusal inside a framework still
 * pays for it — its request and response objects, routing, and `AsyncLocalStorage` once
 * tracing is on. In the example gateway that was ≈ 85 µs of a ≈ 900 µs request; at the
 * listener it is the HTTP parsing and one write. The shed is counted and reported like
 * the middleware's (`shed` event, `sturdy_limit_shed_total`).
 *
 * The gate treats every request as one the middleware decides. **Give a `never` rule to
 * whatever the app answers before the limit or outside its mount** — health and
 * readiness probes above all (a liveness probe refused under load gets a busy pod
 * restarted), CORS preflights, routes the limit is not mounted on. Routes are matched on
 * the request line's path up to `?`; a path with `%` or `/.` (which the framework may
 * decode or normalize first) and another target form (`*`, an absolute URL) go to the
 * listener. The limit's limiter must be `concurrencyLimiter()`'s (its own, or one given
 * as `limiter`): another implementation cannot be asked ahead of `admit()`.
 *
 * @param limit a `concurrencyLimit()` middleware, also mounted in the framework
 * @param listener the framework's request listener
 * @returns a listener for `http.createServer()`
 * @throws TypeError when `limit` is not `concurrencyLimit()`'s, or its limiter not `concurrencyLimiter()`'s
 * @example
 * import { createServer } from 'node:http'
 * import { getRequestListener } from '@hono/node-server'
 * import { sturdy } from '@sturdy/hono'
 * import { concurrencyLimit } from '@sturdy/limit'
 * import { shedEarly } from '@sturdy/limit/node'
 * import { Hono } from 'hono'
 *
 * const limit = concurrencyLimit({ routes: [{ route: '/healthz', priority: 'never' }] })
 * const app = new Hono().use(sturdy(limit))
 * app.get('/healthz', (c) => c.text('ok'))
 * app.get('/', (c) => c.text('hello'))
 * createServer(shedEarly(limit, getRequestListener(app.fetch))).listen(3000)
 */
export function shedEarly(
  limit: ConcurrencyLimitMiddleware,
  listener: (req: IncomingMessage, res: ServerResponse) => unknown,
): (req: IncomingMessage, res: ServerResponse) => void
/**
 * The same for another request and response pair, named explicitly — HTTP/2's
 * compatibility API: `shedEarly<Http2ServerRequest, Http2ServerResponse>(limit, listener)`.
 */
export function shedEarly<Req extends EarlyRequest, Res extends EarlyResponse>(
  limit: ConcurrencyLimitMiddleware,
  listener: (req: Req, res: Res) => unknown,
): (req: Req, res: Res) => void
export function shedEarly<Req extends EarlyRequest, Res extends EarlyResponse>(
  limit: ConcurrencyLimitMiddleware,
  listener: (req: Req, res: Res) => unknown,
): (req: Req, res: Res) => void {
  const early = (limit as { [EARLY]?: EarlyDecision })[EARLY]
  if (early === undefined) {
    throw new TypeError(
      "shedEarly() needs a middleware made by concurrencyLimit() whose limiter is concurrencyLimiter()'s",
    )
  }
  // Each answer's headers with its Content-Length, made once: headers passed to
  // writeHead() are sent as they are, and without a length the body would go chunked.
  const sized = new Map<ShedAnswer, Record<string, string>>()
  const headersOf = (answer: ShedAnswer): Record<string, string> => {
    let headers = sized.get(answer)
    if (headers === undefined) {
      headers = { ...answer.headers, 'content-length': String(Buffer.byteLength(answer.body)) }
      sized.set(answer, headers)
    }
    return headers
  }
  return function sturdyShedEarly(req: Req, res: Res): void {
    const url = req.url
    // While the limiter has room (the usual case) nothing else is looked at: the
    // middleware in the framework matches the route once, as without the gate.
    if (early.mayRefuse() && url !== undefined && url.charCodeAt(0) === 47 /* / */) {
      const q = url.indexOf('?')
      const path = q === -1 ? url : url.slice(0, q)
      // A path the framework would decode or normalize first (`%68ealthz`, `/./healthz`)
      // could match another rule there: the middleware decides it.
      if (path.includes('%') || path.includes('/.')) {
        listener(req, res)
        return
      }
      const answer = early.decide(req.method ?? 'GET', path, req.headers)
      if (answer !== undefined) {
        res.writeHead(answer.status, headersOf(answer))
        res.end(answer.body)
        return
      }
    }
    listener(req, res)
  }
}

/** Options of `eventLoopPressure()`. */
export interface EventLoopPressureOptions {
  /** Event-loop delay (ms, at `percentile`) above which shedding starts. toobusy-js uses 70. @default 50 */
  maxDelayMs?: number
  /** The percentile of the delay histogram compared with `maxDelayMs` (not the mean, which hides stalls). @default 99 */
  percentile?: number
  /** The delay is read (and the histogram reset) at most this often, when asked, in ms. @default 500 */
  intervalMs?: number
}

/** An event-loop-delay signal; `close()` stops its sampling. */
export interface EventLoopPressure extends PressureSignal {
  /** The delay at `percentile` over the last interval, in ms. */
  delayMs(): number
  /** Stops the histogram's sampling. Calling it twice is harmless. */
  close(): void
}

/**
 * Fractional shedding from event-loop delay, as toobusy-js does but on a percentile of
 * Node's own histogram (`perf_hooks.monitorEventLoopDelay`) rather than a timer lag
 * average: read when asked, at most once per interval, `p = clamp((delay − maxDelayMs) /
 * maxDelayMs, 0, 1)`. The delay grows with every kind of queued work, including requests
 * waiting before the middleware that a latency-based limit cannot see. No timer of its
 * own (the histogram samples on libuv's); one per process is enough: share it.
 *
 * @param options see `EventLoopPressureOptions`
 * @returns the signal, with `delayMs()` and `close()`
 * @example
 * import { concurrencyLimit } from '@sturdy/limit'
 * import { eventLoopPressure } from '@sturdy/limit/node'
 *
 * const pressure = eventLoopPressure({ maxDelayMs: 50 })
 * const limit = concurrencyLimit({ pressure })
 * // on shutdown: pressure.close()
 */
export function eventLoopPressure(options: EventLoopPressureOptions = {}): EventLoopPressure {
  const maxDelayMs = options.maxDelayMs ?? 50
  const percentile = options.percentile ?? 99
  const intervalMs = options.intervalMs ?? 500
  if (!(maxDelayMs > 0)) throw new RangeError(`maxDelayMs must be > 0, got ${maxDelayMs}`)
  if (!(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`percentile must be in (0, 100], got ${percentile}`)
  }
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`)
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  let delay = 0
  let probability = 0
  let readAt = performance.now()
  let open = true
  // Read lazily, when asked and at most once an interval: no timer of our own.
  const refresh = (): void => {
    const now = performance.now()
    if (!open || now - readAt < intervalMs) return
    readAt = now
    delay = histogram.percentile(percentile) / 1e6
    histogram.reset()
    probability = Math.min(1, Math.max(0, (delay - maxDelayMs) / maxDelayMs))
  }
  return {
    probability() {
      refresh()
      return probability
    },
    delayMs() {
      refresh()
      return delay
    },
    close() {
      if (!open) return
      open = false
      histogram.disable()
      probability = 0
    },
  }
}
