import { isSturdyError } from '@sturdy/core'
import { isRetryBudgetExhaustedError } from './errors.ts'

/**
 * Statuses worth another try: 408 Request Timeout, 429 Too Many Requests, 502 Bad
 * Gateway, 503 Service Unavailable, 504 Gateway Timeout. 500 is left out of results: it
 * usually means the request itself broke something, and the work may have happened.
 * The one list both `httpRetryableResult` (responses) and `defaultRetryOn` (Sturdy
 * errors with a 4xx status) read.
 */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504])

/**
 * The default `retryOn`: retries every error except client errors that a repeat cannot
 * fix (a Sturdy error with a 4xx status not in `RETRYABLE_STATUSES`, i.e. other than 408
 * and 429) and an exhausted retry budget from a nested policy. Unlike p-retry, a
 * `TypeError` is retried: fetch reports network failures as `TypeError`.
 *
 * @param error the attempt's error
 * @returns whether to retry it
 * @example retry({ retryOn: (e, attempt) => defaultRetryOn(e) && !(e instanceof MyFatalError) })
 */
export function defaultRetryOn(error: unknown): boolean {
  if (isRetryBudgetExhaustedError(error)) return false
  if (isSturdyError(error)) {
    const s = error.status
    if (s >= 400 && s < 500 && !RETRYABLE_STATUSES.has(s)) return false
  }
  return true
}

/**
 * A `retryOnResult` predicate for fetch-style responses: true when the result has a
 * retryable `status` (`RETRYABLE_STATUSES`). The response is not thrown; when attempts
 * run out, the policy returns the last one.
 *
 * @param result the attempt's result
 * @returns true for a `{ status }` in 408/429/502/503/504
 * @example
 * const policy = retry({ retryOnResult: httpRetryableResult })
 * const res = await policy.execute(({ signal }) => fetch(url, { signal }))
 */
export function httpRetryableResult(result: unknown): boolean {
  return (
    typeof result === 'object' &&
    result !== null &&
    RETRYABLE_STATUSES.has((result as { status?: unknown }).status as number)
  )
}
