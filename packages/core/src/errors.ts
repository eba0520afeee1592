/**
 * Branded errors. Every Sturdy failure is a `SturdyError` with a readonly `code`;
 * guards check a `Symbol.for` brand plus the code rather than `instanceof`, so they
 * keep working when two copies of a package end up in one `node_modules` tree.
 */
import type { CircuitState } from './observe.ts'

const BRAND: unique symbol = Symbol.for('@sturdy/error') as never

/** Options every Sturdy error accepts. */
export interface SturdyErrorOptions {
  /** The underlying error, passed through as the standard `cause`. */
  cause?: unknown
}

/**
 * Base class of every Sturdy error.
 *
 * `status` is the HTTP status the error renders as when it reaches a response
 * (see `problemFromError`); `expose` says whether its message is safe to show a client.
 */
export class SturdyError extends Error {
  /** Stable, machine-readable failure code, e.g. `TIMEOUT`. */
  readonly code: string
  /** HTTP status this error maps to when rendered as problem+json. */
  readonly status: number
  /** Whether `message` may be shown to clients (never the stack). */
  readonly expose: boolean

  constructor(code: string, message: string, status = 500, options?: SturdyErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SturdyError'
    this.code = code
    this.status = status
    this.expose = status < 500 || status === 503 || status === 504
  }
}

// The brand lives on the prototype, not on each instance: `Object.defineProperty` per
// construction was a runtime call on every error (an open breaker builds one per call),
// and the guard below reads it through the prototype chain all the same.
Object.defineProperty(SturdyError.prototype, BRAND, { value: true })

/** True for any Sturdy error, from any copy of the package. */
export function isSturdyError(error: unknown): error is SturdyError {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { [BRAND]?: unknown })[BRAND] === true &&
    typeof (error as { code?: unknown }).code === 'string'
  )
}

/**
 * Builds an `isXxxError` guard for a code. Feature packages use it for their own errors.
 *
 * @example
 * export const isBrokenCircuitError = errorGuard<BrokenCircuitError>('BROKEN_CIRCUIT')
 */
export function errorGuard<E extends SturdyError>(code: string): (error: unknown) => error is E {
  return (error: unknown): error is E => isSturdyError(error) && error.code === code
}

/** Why a signal aborted: the deadline passed. Renders as 504. */
export class TimeoutError extends SturdyError {
  /** The budget that ran out, in ms, when known. */
  readonly timeoutMs: number | undefined
  constructor(message = 'Deadline exceeded', timeoutMs?: number, options?: SturdyErrorOptions) {
    super('TIMEOUT', message, 504, options)
    this.name = 'TimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/**
 * Why a signal aborted: the request deadline passed while the request body was still
 * arriving — the client was the slow one, not an upstream. Renders as 408, counted as a
 * client error. `abortKind` calls it a `deadline` all the same.
 */
export class RequestTimeoutError extends SturdyError {
  /** The budget that ran out, in ms, when known. */
  readonly timeoutMs: number | undefined
  constructor(
    message = 'The request body did not arrive before the deadline',
    timeoutMs?: number,
    options?: SturdyErrorOptions,
  ) {
    super('REQUEST_TIMEOUT', message, 408, options)
    this.name = 'RequestTimeoutError'
    this.timeoutMs = timeoutMs
  }
}

/** Why a signal aborted: the client went away. Nothing is written back. */
export class ClientClosedError extends SturdyError {
  constructor(message = 'Client closed the request', options?: SturdyErrorOptions) {
    // 499 is nginx's "client closed request"; it is only ever logged, never sent.
    super('CLIENT_CLOSED', message, 499, options)
    this.name = 'ClientClosedError'
  }
}

/** Why a signal aborted: the server is shutting down. Renders as 503. */
export class ShutdownError extends SturdyError {
  constructor(message = 'Server is shutting down', options?: SturdyErrorOptions) {
    super('SHUTDOWN', message, 503, options)
    this.name = 'ShutdownError'
  }
}

/** One failing field of a `ValidationError`. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `address.zip`; empty for the whole body. */
  readonly path: string
  readonly message: string
}

/** A request was malformed: bad JSON, a bad body, a bad parameter. Renders as 400. */
export class ValidationError extends SturdyError {
  readonly issues: readonly FieldIssue[]
  constructor(message: string, issues: readonly FieldIssue[] = [], options?: SturdyErrorOptions) {
    super('VALIDATION', message, 400, options)
    this.name = 'ValidationError'
    this.issues = issues
  }
}

/** A request body was larger than allowed. Renders as 413. */
export class PayloadTooLargeError extends SturdyError {
  readonly limit: number
  constructor(limit: number, options?: SturdyErrorOptions) {
    super('PAYLOAD_TOO_LARGE', `Request body exceeds ${limit} bytes`, 413, options)
    this.name = 'PayloadTooLargeError'
    this.limit = limit
  }
}

/** True for a `TimeoutError` from any copy of the package. */
export const isTimeoutError: (error: unknown) => error is TimeoutError =
  errorGuard<TimeoutError>('TIMEOUT')
/** True for a `RequestTimeoutError` from any copy of the package. */
export const isRequestTimeoutError: (error: unknown) => error is RequestTimeoutError =
  errorGuard<RequestTimeoutError>('REQUEST_TIMEOUT')
/** True for a `ClientClosedError` from any copy of the package. */
export const isClientClosedError: (error: unknown) => error is ClientClosedError =
  errorGuard<ClientClosedError>('CLIENT_CLOSED')
/** True for a `ShutdownError` from any copy of the package. */
export const isShutdownError: (error: unknown) => error is ShutdownError =
  errorGuard<ShutdownError>('SHUTDOWN')
/** True for a `ValidationError` from any copy of the package. */
export const isValidationError: (error: unknown) => error is ValidationError =
  errorGuard<ValidationError>('VALIDATION')
/** True for a `PayloadTooLargeError` from any copy of the package. */
export const isPayloadTooLargeError: (error: unknown) => error is PayloadTooLargeError =
  errorGuard<PayloadTooLargeError>('PAYLOAD_TOO_LARGE')

/**
 * V8's default `Error.stackTraceLimit`. A process that raised the limit above it (to
 * debug) gets full stacks: `lowerStackLimit` lowers only up to the default.
 */
const DEFAULT_STACK_LIMIT = 10
/** Whether `Error.stackTraceLimit` can be set (false under frozen intrinsics). */
let stackLimitWritable = true

/**
 * Lowers `Error.stackTraceLimit` to `frames` for the construction of an error that
 * refuses work on a hot path (an open circuit, a full limiter); give the result to
 * `restoreStackLimit` in a `finally`. V8 walks and decodes every frame it records, about
 * a microsecond each, and under load that walk was most of the cost of a refusal. The
 * stack then reads the refusing function and its callers up to `frames`: the caller's
 * frame says where the work came from, which is what such a stack is read for. A pair
 * rather than a callback, so no helper frame takes a place in the stack. Nothing
 * changes (and `undefined` comes back) when the limit is already lower, was raised
 * above V8's default of 10 (to debug: full stacks), or cannot be set (frozen intrinsics).
 *
 * @param frames the most frames to record, counting the function that makes the error
 * @returns the limit to restore, or `undefined` when it was left alone
 * @example
 * function refuse(): SturdyError {
 *   const previous = lowerStackLimit(2) // refuse, and refuse's caller
 *   try {
 *     return new SturdyError('FULL', 'no room', 503)
 *   } finally {
 *     restoreStackLimit(previous)
 *   }
 * }
 */
export function lowerStackLimit(frames: number): number | undefined {
  const limit = Error.stackTraceLimit
  if (!stackLimitWritable || typeof limit !== 'number' || limit > DEFAULT_STACK_LIMIT) {
    return undefined
  }
  if (limit <= frames) return undefined
  try {
    Error.stackTraceLimit = frames
  } catch {
    // Frozen intrinsics: the limit stays the user's.
    stackLimitWritable = false
    return undefined
  }
  return limit
}

/**
 * Gives back the `Error.stackTraceLimit` that `lowerStackLimit` lowered.
 *
 * @param previous what `lowerStackLimit` returned
 * @example
 * const previous = lowerStackLimit(3)
 * try {
 *   throw new SturdyError('FULL', 'no room', 503)
 * } finally {
 *   restoreStackLimit(previous)
 * }
 */
export function restoreStackLimit(previous: number | undefined): void {
  if (previous !== undefined) Error.stackTraceLimit = previous
}

/**
 * The code of a circuit breaker's rejection (`@sturdy/breaker`'s `BrokenCircuitError`).
 * It lives here so other policies recognise a rejection without importing the breaker.
 */
export const BROKEN_CIRCUIT_CODE: 'BROKEN_CIRCUIT' = 'BROKEN_CIRCUIT'

/** What a circuit breaker's rejection carries, whichever package or copy threw it. */
export interface CircuitRejection extends SturdyError {
  /** The state that refused the call: `open`, `isolated`, or `half-open` at capacity. */
  readonly state: CircuitState
  /** Ms until the breaker may admit a call again. */
  readonly retryAfterMs: number
}

/**
 * True for a circuit breaker's rejection (a call refused without running), from any
 * copy of `@sturdy/breaker`. A retry in front of a breaker uses it to fail fast.
 */
export const isCircuitRejection: (error: unknown) => error is CircuitRejection =
  errorGuard<CircuitRejection>(BROKEN_CIRCUIT_CODE)

/** The kinds of reason a request signal aborts with. */
export type AbortKind = 'deadline' | 'client-disconnect' | 'shutdown' | 'other'

/** Tells why a signal aborted, from its `reason`. */
export function abortKind(reason: unknown): AbortKind {
  if (isTimeoutError(reason) || isRequestTimeoutError(reason)) return 'deadline'
  if (isClientClosedError(reason)) return 'client-disconnect'
  if (isShutdownError(reason)) return 'shutdown'
  return 'other'
}
