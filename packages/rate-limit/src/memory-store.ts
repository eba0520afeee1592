import type { Clock } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.ts'
import type { RateLimitStore } from './store.ts'

/** Options of `memoryStore`. */
export interface MemoryStoreOptions {
  /**
   * Most keys kept; the least recently used key is forgotten beyond it (it starts afresh,
   * with a full quota, if it comes back). @default 10000
   */
  maxKeys?: number
  /** Time source. @default systemClock */
  clock?: Clock
}

/** The memory store, with how many keys it holds (for tests and gauges). */
export interface MemoryStore extends RateLimitStore {
  /** Keys currently held. */
  readonly size: number
  /** Answers synchronously. */
  consume(key: string, algorithm: RateLimitAlgorithm, cost: number): RateLimitDecision
}

/**
 * Keeps rate-limit state in this process, bounded: a least-recently-used map of at most
 * `maxKeys` keys, and keys whose state is back to "full" are dropped at once. Decisions
 * are synchronous. Web-standard code only, so it runs on Node, Bun, Deno and workers.
 *
 * @param options see `MemoryStoreOptions`
 * @returns the store
 * @example
 * const limiter = rateLimiter({
 *   algorithm: slidingWindow({ limit: 100 }),
 *   store: memoryStore({ maxKeys: 50_000 }),
 * })
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const maxKeys = options.maxKeys ?? 10_000
  if (!Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new RangeError(`memoryStore maxKeys must be a positive integer, got ${maxKeys}`)
  }
  const clock = options.clock ?? systemClock
  // A Map iterates in insertion order: re-inserting on every use keeps the least recently
  // used key first, which is the one to forget.
  const states = new Map<string, unknown>()
  // The key used last is already last in the Map: it can be updated in place.
  let newest: string | undefined
  return {
    get size() {
      return states.size
    },
    consume(key, algorithm, cost) {
      const previous = states.get(key)
      const { state, decision } = algorithm.apply(previous, clock.now(), cost)
      if (state === undefined) {
        if (previous !== undefined) states.delete(key)
        if (key === newest) newest = undefined
      } else if (key === newest) {
        states.set(key, state)
      } else {
        if (previous !== undefined) states.delete(key)
        newest = key
        states.set(key, state)
        if (states.size > maxKeys) {
          const oldest = states.keys().next()
          if (oldest.done !== true) states.delete(oldest.value)
        }
      }
      return decision
    },
  }
}
