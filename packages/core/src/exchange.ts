import type { Problem } from './problem.ts'
import { PROBLEM_CONTENT_TYPE, problemResponse } from './problem.ts'

/**
 * The route value every request that matched no route shares. Metrics and traces use
 * it instead of the raw path, so unknown URLs never create new series.
 */
export const UNMATCHED_ROUTE = '__unmatched__'

/**
 * One request as a Sturdy middleware sees it, whatever the framework. Router adapters
 * (`@sturdy/hono`, `@sturdy/express`, ...) build one per request and map it faithfully.
 *
 * Fields marked "after `next()`" are meaningful once the downstream chain has settled.
 */
export interface Exchange {
  /** The request method as received (normalize with `normalizeMethod` for labels). */
  readonly method: string
  /** The URL path, without query string. */
  readonly path: string
  /** `http` or `https`. */
  readonly scheme: string
  /** The `Host` the client addressed (may include a port), when known. */
  readonly host: string | undefined
  /**
   * The IP address of the peer that opened the connection, when the adapter knows it:
   * the client, or the last proxy in front of the app. Never read from a header; see
   * `@sturdy/rate-limit`'s `clientIp()` for explicit trusted-proxy handling. Optional, so
   * an Exchange written before it existed still type-checks.
   */
  readonly remoteAddress?: string | undefined
  /** A request header (name case-insensitive), or undefined. */
  header(name: string): string | undefined
  /** Sets a response header. Set it before `next()` where you can: it is cheaper. */
  setHeader(name: string, value: string): void
  /**
   * The matched route template (`/users/:id`), known after `next()`.
   * Unmatched requests return `UNMATCHED_ROUTE`; never the raw path.
   */
  route(): string
  /** The response status, after `next()`. */
  readonly status: number
  /** The error a handler threw, after `next()`; undefined when none. */
  readonly error: unknown
  /** The response body size in bytes when the adapter knows it, after `next()`. */
  readonly responseSize: number | undefined
  /**
   * The request signal: aborts when the client disconnects, when `abort()` is called
   * (deadline, shutdown) — whichever is first; `signal.reason` tells which (see
   * `abortKind`). Created lazily on first read.
   */
  readonly signal: AbortSignal
  /**
   * True once the request has been aborted (`abort()`, or a client disconnect).
   * Reading it creates nothing: adapters answer a client disconnect here even when no
   * one has created the signal, so observers (the access log) need not create it.
   */
  readonly aborted: boolean
  /** Aborts the request signal with `reason`. Later calls are ignored. */
  abort(reason: unknown): void
  /**
   * True while the request body is still arriving (the client is still sending), false
   * once it has all arrived; undefined when the adapter cannot tell. The deadline
   * middleware answers 408 instead of 504 when it fires while this is true.
   */
  readonly receiving?: boolean | undefined
  /** The request's absolute deadline on the clock's scale, or undefined for none. */
  deadline: number | undefined
  /** A per-request value shared with handlers and other middleware. */
  get<T = unknown>(key: string): T | undefined
  /**
   * Shares a per-request value. Adapters expose it in the framework's idiom
   * (`c.var[key]` in Hono, `res.locals[key]` in Express, `request.sturdy[key]` in
   * Fastify, `valuesOf(req)[key]` with `@sturdy/node`).
   */
  set(key: string, value: unknown): void
  /**
   * Shares a per-request value computed on first read: `read(ex)` runs at most once,
   * when something first reads `key` (`get(key)`, `c.var[key]`), and never when nothing
   * does. A later `set(key, value)` replaces it. Optional: callers fall back to
   * `set(key, read(ex))` where an adapter lacks it. `deadline()` shares the
   * request signal this way, so a request whose handler never reads it creates no
   * `AbortController`.
   */
  setLazy?(key: string, read: (ex: Exchange) => unknown): void
  /**
   * Answers the request now (short-circuit). Headers already set are kept. Once the
   * exchange has responded, further `respond` calls are ignored.
   */
  respond(status: number, body?: string | null, headers?: Record<string, string>): void
  /** True once `respond()` has been called. */
  readonly responded: boolean
}

/** Continues down the onion; resolves when the rest of the request has run. */
export type Next = () => Promise<void>

declare const variablesOf: unique symbol

/** No per-request values. */
export type NoVariables = Record<never, never>

/**
 * Server middleware: an onion around the rest of the request.
 *
 * `V` is a type-only record of the per-request values the middleware shares with
 * handlers (e.g. `{ signal: AbortSignal }`); adapters use it to type `c.var`.
 */
export type Middleware<V extends object = NoVariables> = ((
  ex: Exchange,
  next: Next,
) => Promise<void>) & { readonly [variablesOf]?: V }

/** The per-request values a middleware provides, as a type. */
export type VariablesOf<M> = M extends Middleware<infer V> ? V : never

/** The per-request values a list of middleware provides together. */
export type CombinedVariables<L extends readonly Middleware<object>[]> = [L[number]] extends [never]
  ? NoVariables
  : // The union of the list's values as an intersection: each member becomes a
    // parameter type (`M` is inferred, so the inner conditional distributes over it),
    // and inferring one parameter from the union of functions intersects them.
    (
        L[number] extends infer M
          ? M extends unknown
            ? (v: VariablesOf<M>) => void
            : never
          : never
      ) extends (v: infer I) => void
    ? I & object
    : never

/**
 * Composes middleware into one onion. The last `next()` calls `last` (the framework's
 * own continuation). Calling `next()` twice from one middleware is an error. A
 * middleware (or `last`) that throws synchronously instead of returning a promise makes
 * the chain reject, as an `async` one would: every adapter gets a promise, never a throw
 * out of the server's request listener.
 *
 * @example
 * const run = chain([requestLogger(), deadline({ budgetMs: 2000 })])
 * await run(exchange, () => frameworkNext())
 */
export function chain(
  middleware: readonly Middleware<object>[],
): (ex: Exchange, last: Next) => Promise<void> {
  const list = [...middleware]
  const n = list.length
  if (n === 0) return (_ex, last) => settle(last)
  if (n === 1) {
    const only = list[0] as Middleware<object>
    return (ex, last) => {
      try {
        return only(ex, onceNext(last))
      } catch (error) {
        return Promise.reject(error)
      }
    }
  }
  return function runChain(ex, last) {
    const dispatch = (i: number): Promise<void> => {
      try {
        return i === n
          ? last()
          : (list[i] as Middleware<object>)(
              ex,
              onceNext(() => dispatch(i + 1)),
            )
      } catch (error) {
        return Promise.reject(error)
      }
    }
    return dispatch(0)
  }
}

/** `fn()`, with a synchronous throw turned into a rejection. */
function settle(fn: Next): Promise<void> {
  try {
    return fn()
  } catch (error) {
    return Promise.reject(error)
  }
}

function onceNext(next: Next): Next {
  let called = false
  return () => {
    if (called) return Promise.reject(new Error('next() called more than once'))
    called = true
    return next()
  }
}

/**
 * Answers with RFC 9457 problem+json, rendered by `problemResponse` from a problem or
 * from any thrown value (unknown errors become a bare 500, never a stack), with
 * `Retry-After` when the source carries `retryAfterMs`. `headers` are added (they cannot
 * change the content type).
 *
 * @param ex the request
 * @param problem a `Problem`, or anything thrown
 * @param headers extra response headers
 * @example
 * respondProblem(ex, new ValidationError('id must be a number', [{ path: 'id', message: 'NaN' }]))
 */
export function respondProblem(
  ex: Exchange,
  problem: Problem | unknown,
  headers?: Record<string, string>,
): void {
  const answer = problemResponse(problem)
  ex.respond(
    answer.status,
    answer.body,
    headers === undefined
      ? answer.headers
      : { ...answer.headers, ...headers, 'content-type': PROBLEM_CONTENT_TYPE },
  )
}
