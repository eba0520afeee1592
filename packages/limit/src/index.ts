/**
 * @module
 * `@sturdy/limit`: keeps a service fast under overload. Adaptive concurrency limits that
 * find the service's capacity from observed latency (`gradientLimit()`, after Envoy; and
 * Netflix's `vegasLimit()`, `gradient2Limit()`, `aimdLimit()`), fixed bulkheads with a
 * bounded priority queue and wait timeout, server load shedding that answers 503 +
 * `Retry-After` before any handler work (priorities, never-shed routes, deadline-aware),
 * and Google SRE's client-side adaptive throttling. Emits the core `LimitEventMap`.
 */

export type { AimdLimitOptions } from './aimd.ts'
export { aimdLimit } from './aimd.ts'
export type { LimitAlgorithm, LimitBounds, LimitSample } from './algorithm.ts'
export { fixedLimit } from './algorithm.ts'
export {
  isOverloadedError,
  isThrottledError,
  OverloadedError,
  ThrottledError,
} from './errors.ts'
export type { GradientLimitOptions } from './gradient.ts'
export { gradientLimit } from './gradient.ts'
export type { Gradient2LimitOptions } from './gradient2.ts'
export { gradient2Limit } from './gradient2.ts'
export type {
  ConcurrencyLimiter,
  ConcurrencyLimiterOptions,
  ImmediateRefusal,
  LimitPermit,
} from './limiter.ts'
export { concurrencyLimiter } from './limiter.ts'
export type {
  ConcurrencyLimitMiddleware,
  ConcurrencyLimitOptions,
  LimitRoute,
  RoutePriority,
} from './middleware.ts'
export { concurrencyLimit } from './middleware.ts'
export { isOverloadSignal } from './overload-signal.ts'
export type { PressureSignal } from './pressure.ts'
export type { AdaptiveThrottle, AdaptiveThrottleOptions } from './throttle.ts'
export { adaptiveThrottle } from './throttle.ts'
export type { VegasLimitOptions } from './vegas.ts'
export { vegasLimit } from './vegas.ts'
