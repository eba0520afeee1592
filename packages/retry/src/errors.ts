import type { SturdyErrorOptions } from '@sturdy/core'
import { errorGuard, SturdyError } from '@sturdy/core'

/**
 * A retry was refused because the shared retry budget is spent: the dependency is
 * failing often enough that retrying would multiply its load. Renders as 503. The
 * failure that asked for the retry is the `cause`.
 */
export class RetryBudgetExhaustedError extends SturdyError {
  /** How many attempts ran before the budget said no. */
  readonly attempts: number
  /**
   * @param attempts attempts made before the refusal
   * @param options `cause`: the last attempt's error
   */
  constructor(attempts: number, options?: SturdyErrorOptions) {
    super('RETRY_BUDGET_EXHAUSTED', 'Retry budget exhausted', 503, options)
    this.name = 'RetryBudgetExhaustedError'
    this.attempts = attempts
  }
}

/**
 * Marks a failure that must not be retried. The retry policy stops at once and rethrows
 * the wrapped `cause` (not this wrapper), the way p-retry's `AbortError` does, so callers
 * see the real failure.
 */
export class DoNotRetryError extends SturdyError {
  /**
   * @param cause the failure to surface without retrying
   * @param message @default 'Not retryable'
   */
  constructor(cause: unknown, message = 'Not retryable') {
    super('DO_NOT_RETRY', message, 500, { cause })
    this.name = 'DoNotRetryError'
  }
}

/**
 * Wraps `error` so the retry policy gives up on it at once and rethrows `error` itself.
 *
 * @param error the failure that retrying cannot fix (a 400, a validation failure, ...)
 * @returns a `DoNotRetryError` whose `cause` is `error`; throw it from the attempt
 * @example
 * await policy.execute(async ({ signal }) => {
 *   const res = await fetch(url, { signal })
 *   if (res.status === 400) throw doNotRetry(new Error('bad request'))
 *   return res
 * })
 */
export function doNotRetry(error: unknown): DoNotRetryError {
  return new DoNotRetryError(error)
}

/** True for a `RetryBudgetExhaustedError` from any copy of the package. */
export const isRetryBudgetExhaustedError: (error: unknown) => error is RetryBudgetExhaustedError =
  errorGuard<RetryBudgetExhaustedError>('RETRY_BUDGET_EXHAUSTED')

/** True for a `DoNotRetryError` from any copy of the package. */
export const isDoNotRetryError: (error: unknown) => error is DoNotRetryError =
  errorGuard<DoNotRetryError>('DO_NOT_RETRY')
