/**
 * The outgoing-call contract: what an HTTP client (`@sturdy/client`) hands the
 * interceptors that observe its calls, so `@sturdy/tracing`, `@sturdy/metrics` and
 * `@sturdy/logger` provide client observers while depending on `@sturdy/core` alone —
 * the client side of the `Middleware` + `Exchange` pair.
 */

/**
 * The per-request values a handler holds, in any framework's idiom: an object with
 * `get(key)` (a Hono `Context`) or a plain record (`c.var`, Express `res.locals`,
 * Fastify `request.sturdy`, `valuesOf(req)` from `@sturdy/node`). Outgoing calls read
 * `VALUES.signal`, `deadline`, `trace`, `requestId` and `log` from it.
 */
export type RequestValues =
  | { get(key: string): unknown }
  | Readonly<Record<string, unknown>>
  | Readonly<Partial<Record<string, unknown>>>

/**
 * One per-request value from `values`, whichever shape it has.
 *
 * @param values a Hono `Context`, a record such as `res.locals`, or undefined
 * @param key the value's key, e.g. `VALUES.trace`
 * @returns the value, or undefined when absent
 * @example
 * const trace = requestValue<TraceContext>(c, VALUES.trace)
 */
export function requestValue<T = unknown>(
  values: RequestValues | undefined,
  key: string,
): T | undefined {
  if (values === undefined || values === null) return undefined
  const get = (values as { get?: unknown }).get
  if (typeof get === 'function') return (values as { get(key: string): unknown }).get(key) as T
  return (values as Record<string, unknown>)[key] as T | undefined
}

/** One attempt of an outgoing HTTP call, as interceptors see it. */
export interface OutgoingRequest {
  /** The method as sent (upper case for the standard methods). */
  readonly method: string
  /** `http` or `https`. */
  readonly scheme: string
  /** The host name or IP address, without brackets or port. */
  readonly host: string
  /** The port the request goes to (the scheme's default when the URL has none). */
  readonly port: number
  /** The request target as sent: path and query, e.g. `/users/1?fields=name`. */
  readonly target: string
  /**
   * The request headers, lower-case names. Interceptors add or replace headers here
   * (`traceparent`, ...) before calling `next()`; each attempt has its own record.
   */
  readonly headers: Record<string, string>
  /** 1 for the first attempt; resends (retries) count up from 2. */
  readonly attempt: number
  /** Why this attempt is a resend, when it is one. */
  readonly resend: OutgoingResend | undefined
  /** The per-request values of the call that started this one (trace, request id, logger). */
  readonly values: RequestValues | undefined
}

/** What preceded a resend. */
export interface OutgoingResend {
  /** The previous attempt's `error.type` (a status such as `503`, or an error name). */
  readonly after: string
  /** Milliseconds between the end of the previous attempt and the start of this one. */
  readonly delayMs: number
}

/** The answer to one attempt, as interceptors see it. */
export interface IncomingResponse {
  /** The response status. */
  readonly status: number
  /** A response header (name case-insensitive), or undefined. */
  header(name: string): string | undefined
  /**
   * Calls `fn` once, when the response body has been fully received, discarded or has
   * failed (`error` then says why); at once when that has already happened. A span or
   * a duration that ends here covers the whole exchange, not just the headers.
   */
  onDone(fn: (error: unknown) => void): void
}

/** Continues to the next interceptor, and finally to the wire. */
export type OutgoingNext = () => Promise<IncomingResponse>

/**
 * Wraps every attempt of an outgoing call: adds headers, measures, logs. It must call
 * `next()` once and return (or rethrow) what it gives; a rejection is the attempt's
 * failure (a timeout, a refused connection, an open circuit).
 *
 * @example
 * const timing: ClientInterceptor = async (request, next) => {
 *   const started = performance.now()
 *   const response = await next()
 *   response.onDone(() => console.log(request.method, response.status, performance.now() - started))
 *   return response
 * }
 */
export type ClientInterceptor = (
  request: OutgoingRequest,
  next: OutgoingNext,
) => Promise<IncomingResponse>

/**
 * A low-cardinality `error.type` for a failed outgoing attempt (OpenTelemetry HTTP
 * client conventions): the error's own `errorType` when it names one (the client's
 * errors do: `connect_timeout`, `ECONNREFUSED`, ...), else its class name, else
 * `_OTHER`. A response with status ≥ 400 is reported as the status itself, by the caller.
 *
 * @param error the attempt's failure
 * @returns the value for `error.type`
 * @example outgoingErrorType(new TypeError('x')) // 'TypeError'
 */
export function outgoingErrorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const own = (error as { errorType?: unknown }).errorType
    if (typeof own === 'string' && own !== '') return own
    const name = (error as { name?: unknown }).name
    if (typeof name === 'string' && name !== '' && name !== 'Error') return name
  }
  return '_OTHER'
}
