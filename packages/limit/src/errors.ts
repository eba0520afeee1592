import type { ShedReason, SturdyErrorOptions } from '@sturdy/core'
import { errorGuard, SturdyError } from '@sturdy/core'

/**
 * Work refused because a concurrency limiter was full (`limit`, `queue-full`,
 * `queue-timeout`) or a deadline could not be met (`deadline`). Renders as 503 with
 * `Retry-After` (`retryAfterMs`) when it reaches a response.
 */
export class OverloadedError extends SturdyError {
  /** Why the work was refused. */
  readonly reason: ShedReason
  /** When the caller may try again, in ms. */
  readonly retryAfterMs: number
  /** The limiter that refused it. */
  readonly limiter: string

  constructor(
    limiter: string,
    reason: ShedReason,
    retryAfterMs: number,
    options?: SturdyErrorOptions,
  ) {
    super('OVERLOADED', `"${limiter}" is overloaded (${reason})`, 503, options)
    this.name = 'OverloadedError'
    this.reason = reason
    this.retryAfterMs = retryAfterMs
    this.limiter = limiter
  }
}

/** True for an `OverloadedError` from any copy of the package. */
export const isOverloadedError: (error: unknown) => error is OverloadedError =
  errorGuard<OverloadedError>('OVERLOADED')

/**
 * A call refused locally by a client-side adaptive throttle: the backend has been
 * rejecting so much that sending it more would only add load. Renders as 503.
 */
export class ThrottledError extends SturdyError {
  /** The throttle that refused it. */
  readonly throttle: string
  /** The probability with which calls were being refused at that moment. */
  readonly probability: number

  constructor(throttle: string, probability: number, options?: SturdyErrorOptions) {
    super('THROTTLED', `"${throttle}" throttled the call locally`, 503, options)
    this.name = 'ThrottledError'
    this.throttle = throttle
    this.probability = probability
  }
}

/** True for a `ThrottledError` from any copy of the package. */
export const isThrottledError: (error: unknown) => error is ThrottledError =
  errorGuard<ThrottledError>('THROTTLED')
