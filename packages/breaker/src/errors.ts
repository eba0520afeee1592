import type { CircuitState } from '@sturdy/core'
import { BROKEN_CIRCUIT_CODE, errorGuard, SturdyError } from '@sturdy/core'

/**
 * A call was rejected without running because the circuit is open, isolated, or
 * half-open with every trial slot taken. Renders as 503; `retryAfterMs` is the breaker's
 * best estimate of when a call may be admitted again (send it as `Retry-After`).
 *
 * @example
 * try {
 *   await breaker.execute(() => fetch(url))
 * } catch (error) {
 *   if (isBrokenCircuitError(error)) console.log(`retry in ${error.retryAfterMs} ms`)
 * }
 */
export class BrokenCircuitError extends SturdyError {
  /** Name of the breaker (the key, for keyed breakers). */
  readonly breaker: string
  /** The state that rejected the call. */
  readonly state: CircuitState
  /** Milliseconds until a call may be admitted again; never negative. */
  readonly retryAfterMs: number

  /**
   * @param breaker the breaker's name
   * @param state the state that rejected the call
   * @param retryAfterMs ms until a call may be admitted again
   */
  constructor(breaker: string, state: CircuitState, retryAfterMs: number) {
    super(BROKEN_CIRCUIT_CODE, rejectionMessage(breaker, state), 503)
    this.name = 'BrokenCircuitError'
    this.breaker = breaker
    this.state = state
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * True for a `BrokenCircuitError` from any copy of the package. (Core's
 * `isCircuitRejection` checks the same code, for packages that must not import this one.)
 *
 * @param error any thrown value
 * @returns whether `error` is a `BrokenCircuitError`
 * @example
 * if (isBrokenCircuitError(error)) res.setHeader('retry-after', String(error.retryAfterMs / 1000))
 */
export const isBrokenCircuitError: (error: unknown) => error is BrokenCircuitError =
  errorGuard<BrokenCircuitError>(BROKEN_CIRCUIT_CODE)

/** The human message of a rejection; also the `detail` of the middleware's 503. */
export function rejectionMessage(breaker: string, state: CircuitState): string {
  return state === 'half-open'
    ? `Circuit "${breaker}" is half-open and all trial calls are taken`
    : `Circuit "${breaker}" is ${state}`
}

/**
 * Frames of a rejection's stack below the breaker's own two (`rejection` and `execute` or
 * `allow`): the caller's. V8 walks and decodes every frame it records
 * (and every optimized frame with its inlined ones), and on an open circuit that walk was
 * most of the cost of refusing a call. The caller's frame says where the call came from,
 * which is what a rejection's stack is read for.
 */
const REJECTION_CALLER_FRAMES = 1
/**
 * V8's default `Error.stackTraceLimit`. A process that raised the limit above it (to
 * debug) gets full rejection stacks: the bound applies only up to the default.
 */
const DEFAULT_STACK_LIMIT = 10
/** `rejection` and the breaker method that called it. */
const OWN_FRAMES = 2

/** Whether `Error.stackTraceLimit` can be set (false under frozen intrinsics). */
let limitWritable = true

/**
 * Builds the `BrokenCircuitError` of a refused call with a bounded stack: the breaker's
 * own frames and the caller's (fewer when `Error.stackTraceLimit` is lower; all of them
 * when it was raised above V8's default of 10). Called directly by the refusing method, so the stack
 * reads `rejection`, `execute` (or `allow`), then the caller.
 */
export function rejection(
  breaker: string,
  state: CircuitState,
  retryAfterMs: number,
): BrokenCircuitError {
  const limit = Error.stackTraceLimit
  if (!limitWritable || typeof limit !== 'number' || limit > DEFAULT_STACK_LIMIT) {
    return new BrokenCircuitError(breaker, state, retryAfterMs)
  }
  try {
    Error.stackTraceLimit = Math.min(limit, OWN_FRAMES + REJECTION_CALLER_FRAMES)
  } catch {
    // Frozen intrinsics: the limit stays the user's.
    limitWritable = false
    return new BrokenCircuitError(breaker, state, retryAfterMs)
  }
  try {
    return new BrokenCircuitError(breaker, state, retryAfterMs)
  } finally {
    Error.stackTraceLimit = limit
  }
}
