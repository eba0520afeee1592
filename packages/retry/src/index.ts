/**
 * @module
 * `@sturdy/retry`: retries with exponential backoff and jitter (full, equal,
 * decorrelated), safe finite defaults, deadline awareness, server pushback
 * (`Retry-After`, `grpc-retry-pushback-ms`), fail-fast on an open circuit breaker,
 * shareable retry budgets and idempotency rules for HTTP. The loop is p-retry's;
 * delays, deadlines and budgets are Sturdy's.
 *
 * @example
 * import { retry, httpRetryableResult } from '@sturdy/retry'
 * const policy = retry({ retryOnResult: httpRetryableResult })
 * const res = await policy.execute(({ signal }) => fetch('http://users/1', { signal }))
 */
export type { Backoff, BackoffOptions, Jitter } from './backoff.ts'
export { BACKOFF_DEFAULTS, exponentialBackoff } from './backoff.ts'
export type { RetryBudget, RetryBudgetOptions } from './budget.ts'
export { retryBudget } from './budget.ts'
export {
  DoNotRetryError,
  doNotRetry,
  isDoNotRetryError,
  isRetryBudgetExhaustedError,
  RetryBudgetExhaustedError,
} from './errors.ts'
export type { HedgeOptions, HedgePolicy } from './hedge.ts'
export { HEDGE_DEFAULTS, HedgeLostError, hedge, isHedgeLostError } from './hedge.ts'
export type { IdempotencyOptions, RequestLike } from './idempotency.ts'
export { idempotentOnly, isRetryableRequest } from './idempotency.ts'
export type { HeadersLike, Pushback } from './pushback.ts'
export { headerValue, parseGrpcPushback, parseRetryAfter, readPushback } from './pushback.ts'
export type { RetryPolicy } from './retry.ts'
export { retry } from './retry.ts'
export type { DelayContext, RetryFailure, RetryOptions } from './retry-options.ts'
export { RETRY_DEFAULTS } from './retry-options.ts'
export { defaultRetryOn, httpRetryableResult, RETRYABLE_STATUSES } from './retryable.ts'
