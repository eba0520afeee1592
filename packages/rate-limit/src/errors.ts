import { errorGuard, SturdyError } from '@sturdy/core'

/**
 * A call was refused by a rate limiter. Renders as 429; `retryAfterMs` is when a call of
 * the same cost would be admitted (`Infinity` when its cost exceeds the limit), and
 * `@sturdy/retry` honours it as pushback.
 *
 * @example
 * try {
 *   await policy.execute(() => fetch(url))
 * } catch (error) {
 *   if (isRateLimitedError(error)) console.log(`try again in ${error.retryAfterMs} ms`)
 * }
 */
export class RateLimitedError extends SturdyError {
  /** Name of the limiter that refused the call. */
  readonly limiter: string
  /** Ms until a call of the same cost would be admitted. */
  readonly retryAfterMs: number

  /**
   * @param limiter the limiter's name
   * @param retryAfterMs ms until a call of the same cost would be admitted
   */
  constructor(limiter: string, retryAfterMs: number) {
    super('RATE_LIMITED', `Rate limit "${limiter}" exceeded`, 429)
    this.name = 'RateLimitedError'
    this.limiter = limiter
    this.retryAfterMs = retryAfterMs
  }
}

/**
 * True for a `RateLimitedError` from any copy of the package.
 *
 * @param error any thrown value
 * @returns whether `error` is a `RateLimitedError`
 * @example
 * if (isRateLimitedError(error)) await sleep(error.retryAfterMs)
 */
export const isRateLimitedError: (error: unknown) => error is RateLimitedError =
  errorGuard<RateLimitedError>('RATE_LIMITED')
