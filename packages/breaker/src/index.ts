/**
 * @module
 * `@sturdy/breaker`: a circuit breaker with sony/gobreaker's semantics (closed / open /
 * half-open, generations, `maxRequests` fail-fast trials, `readyToTrip` on counts, a
 * two-step API), plus failure-ratio and slow-call-ratio trips over a rolling window,
 * tri-state outcomes, growing open durations, `BrokenCircuitError` with `retryAfterMs`,
 * isolate/reset, snapshots, keyed breakers with bounded memory, a fail-fast server
 * middleware, and state shared across replicas (Redis or in-process), local-first, with
 * periodic sync and optionally merged counts.
 * Clock-based and lazily evaluated: no timer per breaker.
 */
export type { BreakerSnapshot, CircuitBreakerOptions } from './breaker-options.ts'
export type { BreakerDone, CircuitBreaker, SharedControl } from './circuit-breaker.ts'
export { circuitBreaker } from './circuit-breaker.ts'
export type { Counts } from './counts.ts'
export { BrokenCircuitError, isBrokenCircuitError } from './errors.ts'
export type { KeyBreakerOptions, KeyedBreaker, KeyedBreakerOptions } from './keyed-breaker.ts'
export { keyedBreaker } from './keyed-breaker.ts'
export type { MemoryBreakerStoreOptions } from './memory-breaker-store.ts'
export { memoryBreakerStore } from './memory-breaker-store.ts'
export type { BreakerMiddleware, BreakerMiddlewareOptions } from './middleware.ts'
export { breakerMiddleware } from './middleware.ts'
export type { OpenBackoffOptions } from './open-backoff.ts'
export { openBackoff } from './open-backoff.ts'
export type { Outcome, Settled } from './outcome.ts'
export {
  deadlineOutcome,
  defaultOutcome,
  defaultReadyToTrip,
  MIN_FAIR_BUDGET_MS,
} from './outcome.ts'
export type {
  BreakerRedisClient,
  IoredisBreakerLike,
  IoredisSubscriberLike,
  RedisBreakerStoreOptions,
} from './redis-breaker-store.ts'
export { ioredisBreakerClient, redisBreakerStore } from './redis-breaker-store.ts'
export type {
  BreakerStateStore,
  CountsReport,
  SharedBreakerOptions,
  SharedCounts,
  SharedTransition,
} from './shared-state.ts'
