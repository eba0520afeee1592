import type { FieldIssue, SturdyErrorOptions } from '@sturdy/core'
import { errorGuard, SturdyError, TimeoutError } from '@sturdy/core'

/**
 * Which budget ran out:
 * - `connect`: the TCP/TLS connection was not up in time (nothing was sent);
 * - `headers`: the response headers did not arrive in time;
 * - `body`: the response body stalled (no data for that long);
 * - `attempt`: the attempt as a whole (queue wait, connect, headers, and for buffered
 *   calls the body) took too long;
 * - `deadline`: the call's total deadline (`timeoutMs`, `deadline`) passed.
 */
export type TimeoutPhase = 'connect' | 'headers' | 'body' | 'attempt' | 'deadline'

/**
 * An outgoing call ran out of time. A core `TimeoutError` (so `isTimeoutError` holds and
 * it renders as 504 if it escapes a handler), with the `phase` that timed out.
 */
export class ClientTimeoutError extends TimeoutError {
  /** Which budget ran out. */
  readonly phase: TimeoutPhase
  /** `error.type` for spans and metrics: `connect_timeout`, `headers_timeout`, ... */
  readonly errorType: string
  /**
   * @param phase which budget ran out
   * @param timeoutMs the budget, when known
   * @param options `cause`: the transport's own error
   */
  constructor(phase: TimeoutPhase, timeoutMs?: number, options?: SturdyErrorOptions) {
    super(timeoutMessage(phase, timeoutMs), timeoutMs, options)
    this.name = 'ClientTimeoutError'
    this.phase = phase
    this.errorType = `${phase}_timeout`
  }
}

function timeoutMessage(phase: TimeoutPhase, ms: number | undefined): string {
  const after = ms === undefined ? '' : ` after ${Math.round(ms)} ms`
  switch (phase) {
    case 'connect':
      return `Connect timed out${after}`
    case 'headers':
      return `No response headers${after}`
    case 'body':
      return `Response body stalled${after}`
    case 'attempt':
      return `Attempt timed out${after}`
    default:
      return `Call deadline exceeded${after}`
  }
}

/**
 * The connection failed: refused, reset, closed by the other side, a DNS failure.
 * Renders as 502. `sent` says whether the request may have reached the server (false
 * when the connection never came up, so a retry is safe for any method). The transport
 * error is the `cause`; its code (`ECONNREFUSED`, `UND_ERR_SOCKET`, ...) is `errorType`.
 */
export class ConnectionError extends SturdyError {
  /** Whether the request may have reached the server. */
  readonly sent: boolean
  /** The transport's error code, for `error.type`. */
  readonly errorType: string
  /**
   * @param message what failed
   * @param sent whether the request may have reached the server
   * @param errorType the transport's error code
   * @param options `cause`: the transport's error
   */
  constructor(message: string, sent: boolean, errorType: string, options?: SturdyErrorOptions) {
    super('CONNECTION', message, 502, options)
    this.name = 'ConnectionError'
    this.sent = sent
    this.errorType = errorType
  }
}

/**
 * The upstream answered with a status that is not 2xx (from `client.json()`; `fetch`
 * returns such responses as they are). Renders as 502 if it escapes a handler: your
 * dependency failed, whatever it answered; `upstreamStatus` is what it answered.
 */
export class HttpStatusError extends SturdyError {
  /** The status the upstream answered. */
  readonly upstreamStatus: number
  /** The method of the call. */
  readonly method: string
  /** The URL of the call, without credentials or query. */
  readonly url: string
  /** The response headers. */
  readonly headers: Headers
  /** The RFC 9457 problem details the upstream sent (`application/problem+json`), if any. */
  readonly problem: Readonly<Record<string, unknown>> | undefined
  /** The wait the upstream asked for with `Retry-After`, in ms, if it did. */
  readonly retryAfterMs: number | undefined
  /** `error.type`: the status as a string. */
  readonly errorType: string
  /**
   * @param init what the upstream answered
   * @param message @default `<METHOD> <url> answered <status>`
   */
  constructor(
    init: {
      readonly upstreamStatus: number
      readonly method: string
      readonly url: string
      readonly headers: Headers
      readonly problem?: Readonly<Record<string, unknown>> | undefined
      readonly retryAfterMs?: number | undefined
      readonly note?: string | undefined
    },
    message?: string,
  ) {
    const problemTitle =
      typeof init.problem?.title === 'string' ? `: ${String(init.problem.title)}` : ''
    super(
      'HTTP_STATUS',
      message ??
        `${init.method} ${init.url} answered ${init.upstreamStatus}${problemTitle}${init.note ?? ''}`,
      502,
    )
    this.name = 'HttpStatusError'
    this.upstreamStatus = init.upstreamStatus
    this.method = init.method
    this.url = init.url
    this.headers = init.headers
    this.problem = init.problem
    this.retryAfterMs = init.retryAfterMs
    this.errorType = String(init.upstreamStatus)
  }
}

/**
 * The upstream's answer did not match the schema given to `client.json()`. Renders as
 * 502; `issues` name the failing fields (`items.0.price`), and the message lists them.
 */
export class ResponseValidationError extends SturdyError {
  /** The failing fields. */
  readonly issues: readonly FieldIssue[]
  /** The URL of the call, without credentials or query. */
  readonly url: string
  /**
   * @param url the call's URL (no query)
   * @param issues the failing fields
   */
  constructor(url: string, issues: readonly FieldIssue[]) {
    const list = issues
      .slice(0, 10)
      .map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`)
      .join('; ')
    const more = issues.length > 10 ? ` (and ${issues.length - 10} more)` : ''
    super('RESPONSE_VALIDATION', `Invalid response from ${url}: ${list}${more}`, 502)
    this.name = 'ResponseValidationError'
    this.issues = issues
    this.url = url
  }
}

/**
 * The call was refused before it was sent because the origin's pool is saturated:
 * every connection busy and `maxQueued` calls already waiting. Renders as 503.
 */
export class PoolSaturatedError extends SturdyError {
  /** The origin whose pool is full. */
  readonly origin: string
  /** `error.type`. */
  readonly errorType: string = 'pool_saturated'
  /**
   * @param origin the origin
   * @param queued how many calls were waiting
   */
  constructor(origin: string, queued: number) {
    super('POOL_SATURATED', `Connection pool for ${origin} is saturated (${queued} queued)`, 503)
    this.name = 'PoolSaturatedError'
    this.origin = origin
  }
}

/**
 * The response body is larger than the call may buffer (`maxResponseBytes`), for
 * `client.json()` and the bodies read for errors. Renders as 502.
 */
export class ResponseTooLargeError extends SturdyError {
  /** The limit, in bytes. */
  readonly limit: number
  /** `error.type`. */
  readonly errorType: string = 'response_too_large'
  /** @param limit the limit in bytes */
  constructor(limit: number) {
    super('RESPONSE_TOO_LARGE', `Response body exceeds ${limit} bytes`, 502)
    this.name = 'ResponseTooLargeError'
    this.limit = limit
  }
}

/** True for a `ClientTimeoutError` from any copy of the package. */
export function isClientTimeoutError(error: unknown): error is ClientTimeoutError {
  return isTimeoutErrorWithPhase(error)
}

function isTimeoutErrorWithPhase(error: unknown): error is ClientTimeoutError {
  return (
    errorGuard<TimeoutError>('TIMEOUT')(error) &&
    typeof (error as { phase?: unknown }).phase === 'string'
  )
}

/** True for a `ConnectionError` from any copy of the package. */
export const isConnectionError: (error: unknown) => error is ConnectionError =
  errorGuard<ConnectionError>('CONNECTION')
/** True for an `HttpStatusError` from any copy of the package. */
export const isHttpStatusError: (error: unknown) => error is HttpStatusError =
  errorGuard<HttpStatusError>('HTTP_STATUS')
/** True for a `ResponseValidationError` from any copy of the package. */
export const isResponseValidationError: (error: unknown) => error is ResponseValidationError =
  errorGuard<ResponseValidationError>('RESPONSE_VALIDATION')
/** True for a `PoolSaturatedError` from any copy of the package. */
export const isPoolSaturatedError: (error: unknown) => error is PoolSaturatedError =
  errorGuard<PoolSaturatedError>('POOL_SATURATED')
/** True for a `ResponseTooLargeError` from any copy of the package. */
export const isResponseTooLargeError: (error: unknown) => error is ResponseTooLargeError =
  errorGuard<ResponseTooLargeError>('RESPONSE_TOO_LARGE')
