/**
 * Errors both ways: a Sturdy error (or anything thrown) leaving a handler becomes the
 * `ConnectError` a gRPC client understands, and a `ConnectError` reaching Sturdy code
 * (an HTTP handler calling a gRPC service) becomes the Sturdy error that renders as the
 * right HTTP answer. One table, `STATUS_BY_CODE` / `codeOfStatus`, holds the mapping.
 */
import { create } from '@bufbuild/protobuf'
import { durationFromMs } from '@bufbuild/protobuf/wkt'
import { Code, ConnectError } from '@connectrpc/connect'
import type { FieldIssue, RpcCode, SturdyErrorOptions } from '@sturdy/core'
import {
  errorGuard,
  isCircuitRejection,
  isSturdyError,
  isValidationError,
  RPC_CODES,
  SturdyError,
  TimeoutError,
  ValidationError,
} from '@sturdy/core'
import { BadRequestSchema, RetryInfoSchema } from './gen/google/rpc/error_details_pb.ts'

/** gRPC's pushback metadata: how long the client should wait before retrying. */
export const PUSHBACK_HEADER = 'grpc-retry-pushback-ms'

/**
 * The HTTP status each code renders as when it reaches an HTTP response: the Connect
 * protocol's own mapping (DEADLINE_EXCEEDED 504, UNAVAILABLE 503, RESOURCE_EXHAUSTED
 * 429, CANCELLED 499, ...), so a failure keeps its meaning across the hop.
 */
const STATUS_BY_CODE: Readonly<Record<RpcCode, number>> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
  UNAUTHENTICATED: 401,
}

/** The code an HTTP status (of a Sturdy error) maps to, the reverse of the table above. */
function codeOfStatus(status: number): Code {
  switch (status) {
    case 400:
    case 422:
      return Code.InvalidArgument
    case 401:
      return Code.Unauthenticated
    case 403:
      return Code.PermissionDenied
    case 404:
      return Code.NotFound
    case 408:
    case 504:
      return Code.DeadlineExceeded
    case 409:
      return Code.Aborted
    case 413:
    case 429:
      return Code.ResourceExhausted
    case 499:
      return Code.Canceled
    case 501:
      return Code.Unimplemented
    case 502:
    case 503:
      return Code.Unavailable
    default:
      return status >= 400 && status < 500 ? Code.FailedPrecondition : Code.Internal
  }
}

/**
 * A gRPC failure that reached Sturdy code, as a Sturdy error: `status` is the HTTP
 * status its code renders as (UNAVAILABLE 503 with `retryAfterMs` from the server's
 * pushback, NOT_FOUND 404, ...), so `problemResponse()` answers an HTTP caller with the
 * same meaning. The `ConnectError` is the `cause`.
 */
export class RpcStatusError extends SturdyError {
  /** The gRPC status code. */
  readonly rpcCode: RpcCode
  /** The server's pushback, in ms, when it sent one. */
  readonly retryAfterMs: number | undefined
  /**
   * @param rpcCode the gRPC code
   * @param message the server's message (shown to HTTP clients only for 4xx, 503, 504)
   * @param retryAfterMs the server's pushback
   * @param options `cause`: the `ConnectError`
   */
  constructor(
    rpcCode: RpcCode,
    message: string,
    retryAfterMs?: number,
    options?: SturdyErrorOptions,
  ) {
    super('RPC_STATUS', message, STATUS_BY_CODE[rpcCode], options)
    this.name = 'RpcStatusError'
    this.rpcCode = rpcCode
    this.retryAfterMs = retryAfterMs
  }
}

/** True for an `RpcStatusError` from any copy of the package. */
export const isRpcStatusError: (error: unknown) => error is RpcStatusError =
  errorGuard<RpcStatusError>('RPC_STATUS')

/**
 * The gRPC status code of a failure as a name: a `ConnectError`'s own code, or the
 * code `toConnectError` gives anything else.
 *
 * @param error any thrown value
 * @returns e.g. `DEADLINE_EXCEEDED`
 * @example rpcCodeOf(new ConnectError('x', Code.Unavailable)) // 'UNAVAILABLE'
 */
export function rpcCodeOf(error: unknown): RpcCode {
  const code = error instanceof ConnectError ? error.code : toConnectError(error).code
  return RPC_CODES[code] ?? 'UNKNOWN'
}

/**
 * Turns anything a handler throws into the `ConnectError` its caller receives:
 *
 * - a `ConnectError` as it is (the handler chose it);
 * - `TimeoutError` → DEADLINE_EXCEEDED; a circuit breaker's rejection → UNAVAILABLE
 *   with `grpc-retry-pushback-ms` and a `google.rpc.RetryInfo` detail; `ValidationError`
 *   → INVALID_ARGUMENT with a `google.rpc.BadRequest` detail naming each field; any other
 *   Sturdy error by its HTTP status (503 UNAVAILABLE, 429 RESOURCE_EXHAUSTED, ...), its
 *   message kept only when it is exposable (4xx, 503, 504);
 * - anything else → INTERNAL `internal error`, no message, stack or cause sent.
 *
 * The original is kept as the `ConnectError`'s `cause` (never sent), for logs.
 *
 * @param error any thrown value
 * @returns the error to send
 * @example
 * throw toConnectError(new ValidationError('bad id', [{ path: 'id', message: 'must be a number' }]))
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error
  if (!isSturdyError(error)) {
    return new ConnectError('internal error', Code.Internal, undefined, undefined, error)
  }
  const message = error.expose ? error.message : 'internal error'
  if (isValidationError(error)) {
    const details =
      error.issues.length === 0
        ? undefined
        : [{ desc: BadRequestSchema, value: badRequest(error.issues) }]
    return new ConnectError(message, Code.InvalidArgument, undefined, details, error)
  }
  const code = isCircuitRejection(error) ? Code.Unavailable : codeOfStatus(error.status)
  const wait = (error as { retryAfterMs?: unknown }).retryAfterMs
  if (typeof wait === 'number' && Number.isFinite(wait) && wait >= 0) {
    const ms = Math.ceil(wait)
    return new ConnectError(
      message,
      code,
      { [PUSHBACK_HEADER]: String(ms) },
      [{ desc: RetryInfoSchema, value: { retryDelay: durationFromMs(ms) } }],
      error,
    )
  }
  return new ConnectError(message, code, undefined, undefined, error)
}

/**
 * Turns a `ConnectError` from a gRPC call into the Sturdy error that renders as the
 * right HTTP answer when it escapes an HTTP handler:
 *
 * - a Sturdy error that caused it locally (the client breaker's `BrokenCircuitError`,
 *   the request's own `TimeoutError`) is returned as it is;
 * - DEADLINE_EXCEEDED → `TimeoutError` (504);
 * - INVALID_ARGUMENT → `ValidationError` (400), its field issues read from a
 *   `google.rpc.BadRequest` detail;
 * - any other code → `RpcStatusError` with the code's HTTP status (UNAVAILABLE 503 with
 *   `retryAfterMs` from `grpc-retry-pushback-ms`, which renders as `Retry-After`);
 * - connect-node's INTERNAL for an HTTP/2 connection that went away under the call (a
 *   GOAWAY with an error code, a refused stream) → UNAVAILABLE (503): the transport's
 *   failure, not the server's answer.
 *
 * Anything that is not a `ConnectError` is returned unchanged.
 *
 * @param thrown what a gRPC call threw
 * @returns the Sturdy error (or the value itself)
 * @example
 * try {
 *   return c.json(await users.getUser({ id }, callContext(c)))
 * } catch (error) {
 *   throw toSturdyError(error) // 504, 400 with fields, 503 with Retry-After...
 * }
 */
export function toSturdyError(thrown: unknown): unknown {
  if (!(thrown instanceof ConnectError)) return thrown
  const error = lostConnectionAsUnavailable(thrown) as ConnectError
  if (isSturdyError(error.cause)) return error.cause
  const code = RPC_CODES[error.code] ?? 'UNKNOWN'
  const message = error.rawMessage
  if (code === 'DEADLINE_EXCEEDED') return new TimeoutError(message, undefined, { cause: error })
  if (code === 'INVALID_ARGUMENT') {
    const issues: FieldIssue[] = []
    for (const detail of safeDetails(error)) {
      for (const v of detail.fieldViolations) {
        issues.push({ path: v.field, message: v.description })
      }
    }
    return new ValidationError(message, issues, { cause: error })
  }
  const pushback = error.metadata.get(PUSHBACK_HEADER)
  const ms = pushback !== null && /^\d{1,10}$/.test(pushback) ? Number(pushback) : undefined
  return new RpcStatusError(code, message, ms, { cause: error })
}

function badRequest(issues: readonly FieldIssue[]) {
  return create(BadRequestSchema, {
    fieldViolations: issues.map((i) => ({ field: i.path, description: i.message })),
  })
}

/** A peer's malformed detail must not turn a clean status into a decoding crash. */
function safeDetails(error: ConnectError) {
  try {
    return error.findDetails(BadRequestSchema)
  } catch {
    return []
  }
}

/** Node's codes for an HTTP/2 connection that went away under the streams on it. */
const SESSION_LOST = new Set([
  'ERR_HTTP2_SESSION_ERROR', // the peer's GOAWAY with an error code (e.g. too many resets)
  'ERR_HTTP2_GOAWAY_SESSION', // a stream started on a session already going away
  'ERR_HTTP2_INVALID_SESSION', // a stream started on a destroyed session
])

/**
 * The call failed because its HTTP/2 connection went away, or the server refused the
 * stream (REFUSED_STREAM, as after a GOAWAY): connect-node reports INTERNAL with Node's
 * error as the cause; it is the transport's, so UNAVAILABLE (gRPC's code for "the
 * connection is gone, try again"), retried by `clientRetry()` when the method is safe to
 * repeat (a refused stream was never processed: any method). A `ConnectError` with
 * another cause, and anything else, is returned unchanged.
 *
 * Node's HTTP/2 server closes a session with GOAWAY INTERNAL_ERROR when its client resets
 * streams faster than nghttp2's rapid-reset limit (a burst of 1,000, then 33/s; not
 * configurable before Node 22): what a gateway whose callers' deadlines fire does.
 */
export function lostConnectionAsUnavailable(error: unknown): unknown {
  if (!(error instanceof ConnectError) || error.code === Code.Unavailable) return error
  if (!isLostConnection(error)) return error
  return new ConnectError(
    error.rawMessage,
    Code.Unavailable,
    error.metadata,
    undefined,
    error.cause,
  )
}

/** Whether connect-node's error is its HTTP/2 connection going away, or a refused stream. */
export function isLostConnection(error: ConnectError): boolean {
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined
  if (typeof cause?.code !== 'string') return false
  if (SESSION_LOST.has(cause.code)) return true
  return isRefusedStream(error)
}

/**
 * The server refused the HTTP/2 stream (REFUSED_STREAM: it never processed the call,
 * typically a call racing a GOAWAY). connect-node reports it as INTERNAL with the
 * stream error as its cause; repeating it is safe for any method.
 */
export function isRefusedStream(error: unknown): boolean {
  if (!(error instanceof ConnectError)) return false
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined
  return (
    cause?.code === 'ERR_HTTP2_STREAM_ERROR' &&
    typeof cause.message === 'string' &&
    cause.message.includes('REFUSED_STREAM')
  )
}
