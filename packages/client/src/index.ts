/**
 * @module
 * `@sturdy/client`: a pooled, deadline-aware HTTP client on undici 7. One keep-alive
 * pool per origin; per attempt a timeout, a circuit breaker and retries with backoff and
 * jitter (idempotent calls only, `Retry-After` honoured, a retry budget per origin); a
 * fetch-compatible `fetch()` and a validating `json()`; and the inbound request's
 * deadline, trace and request id carried to the next hop. Per origin, as opt-ins:
 * hedged requests, SRE adaptive throttling and a concurrency limit. Interceptors from
 * `@sturdy/tracing`, `@sturdy/metrics` and `@sturdy/logger` add CLIENT spans, metrics
 * and logs.
 */
export type { BodyLike } from './body.ts'
export type { PoolStatsLike } from './client.ts'
export type { Client, JsonRequestInit } from './create-client.ts'
export { createClient } from './create-client.ts'
export type { TimeoutPhase } from './errors.ts'
export {
  ClientTimeoutError,
  ConnectionError,
  HttpStatusError,
  isClientTimeoutError,
  isConnectionError,
  isHttpStatusError,
  isPoolSaturatedError,
  isResponseTooLargeError,
  isResponseValidationError,
  PoolSaturatedError,
  ResponseTooLargeError,
  ResponseValidationError,
} from './errors.ts'
export type {
  CallOptions,
  ClientBreakerOptions,
  ClientConcurrencyLimitOptions,
  ClientHedgeOptions,
  ClientOptions,
  ClientRequestInit,
  ClientRetryOptions,
  ClientThrottleOptions,
  OriginOptions,
} from './options.ts'
export { CLIENT_DEFAULTS } from './options.ts'
export type { AttemptBudgetOptions, OutgoingContext } from './propagation.ts'
export {
  attemptBudget,
  outgoingContext,
  REQUEST_ID_HEADER,
  stampBudget,
  stampTrace,
  traceparentOf,
} from './propagation.ts'
export type {
  SchemaOutput,
  StandardSchemaIssue,
  StandardSchemaResult,
  StandardSchemaV1,
} from './schema.ts'
