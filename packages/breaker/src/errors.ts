import type { CircuitState } from '@sturdy/core'
import {
  BROKEN_CIRCUIT_CODE,
  errorGuard,
  lowerStackLimit,
  restoreStackLimit,
  SturdyError,
} from '@sturdy/core'

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
 * Frames of a rejection's stack (core's `lowerStackLimit`): `rejection`, the breaker
 * method that called it (`execute` or `allow`), and the caller's frame, which says where
 * the call came from.
 */
const REJECTION_FRAMES = 3

/**
 * Builds the `BrokenCircuitError` of a refused call with a bounded stack that ends with
 * the caller's frame. Called directly by the refusing method.
 */
export function rejection(
  breaker: string,
  state: CircuitState,
  retryAfterMs: number,
): BrokenCircuitError {
  const previous = lowerStackLimit(REJECTION_FRAMES)
  try {
    return new BrokenCircuitError(breaker, state, retryAfterMs)
  } finally {
    restoreStackLimit(previous)
  }
}
