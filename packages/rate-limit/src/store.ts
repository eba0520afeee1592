import type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.ts'

/**
 * Where rate-limit state lives: `memoryStore()` (one process) or `redisStore()` (shared
 * by every replica). A store makes each decision atomically for its key.
 */
export interface RateLimitStore {
  /**
   * Applies `cost` units to `key` under `algorithm` and says whether they fit. A negative
   * cost gives units back (a refund). The memory store answers synchronously; a shared
   * store must not reject because it failed, but decide by a fallback (see `redisStore`).
   * Keys arrive namespaced by the limiter (`{t|s}:{limiter name}:{key}`).
   */
  consume(
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
  ): RateLimitDecision | Promise<RateLimitDecision>
}
