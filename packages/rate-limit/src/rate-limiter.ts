import type { Clock, Emitter, Events, RateLimitEventMap } from '@sturdy/core'
import { createEmitter, systemClock } from '@sturdy/core'
import type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.ts'
import { checkCost } from './algorithm.ts'
import { memoryStore } from './memory-store.ts'
import { slidingWindow } from './sliding-window.ts'
import type { RateLimitStore } from './store.ts'

/** Options of `rateLimiter`. */
export interface RateLimiterOptions {
  /**
   * Name on events, metrics and the `RateLimit` headers; also part of every store key, so
   * limiters sharing a store need different names. @default 'rate-limit'
   */
  name?: string
  /** How units are counted. @default slidingWindow({ limit: 100, windowMs: 60_000 }) */
  algorithm?: RateLimitAlgorithm
  /** Where state lives. @default memoryStore() */
  store?: RateLimitStore
  /** Time source, for how long a store was down. @default systemClock */
  clock?: Clock
}

/**
 * A rate limiter: an algorithm over a store, per key. Observable like a policy
 * (`kind: 'rate-limit'`), so `@sturdy/metrics`, `@sturdy/logger` and `@sturdy/tracing`
 * can subscribe to its events.
 */
export interface RateLimiter {
  readonly kind: 'rate-limit'
  readonly name: string
  readonly events: Events<RateLimitEventMap>
  readonly algorithm: RateLimitAlgorithm
  readonly store: RateLimitStore
  /**
   * Takes `cost` units from `key`'s quota when they fit. Synchronous with the memory
   * store, a promise with Redis; it never rejects because a store failed (see `redisStore`).
   *
   * @param key the client, user, API key ... (never put into events or metrics)
   * @param cost whole units, 0 to only look; @default 1
   */
  consume(key: string, cost?: number): RateLimitDecision | Promise<RateLimitDecision>
  /** Gives `cost` units back to `key` (a request that should not count after all). */
  refund(key: string, cost?: number): Promise<void>
}

/**
 * Creates a rate limiter.
 *
 * @param options see `RateLimiterOptions`
 * @returns the limiter
 * @example
 * import { rateLimiter, tokenBucket } from '@sturdy/rate-limit'
 *
 * const limiter = rateLimiter({ name: 'api', algorithm: tokenBucket({ limit: 10, windowMs: 1000 }) })
 * const decision = await limiter.consume('user:42')
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`)
 */
export function rateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const name = options.name ?? 'rate-limit'
  const algorithm = options.algorithm ?? slidingWindow({ limit: 100, windowMs: 60_000 })
  const clock = options.clock ?? systemClock
  const store = options.store ?? memoryStore({ clock })
  const events: Emitter<RateLimitEventMap> = createEmitter()
  // Store keys: algorithm, limiter name, then the caller's key — state shapes differ per
  // algorithm, and limiters sharing a store must not share quotas.
  const prefix = `${algorithm.kind === 'token-bucket' ? 't' : 's'}:${name}:`
  let downSince: number | undefined

  const report = (decision: RateLimitDecision, cost: number): RateLimitDecision => {
    const degraded = decision.degraded
    if (degraded !== undefined) {
      downSince ??= clock.now()
      if (events.has('fallback')) {
        events.emit('fallback', {
          name,
          reason: degraded.reason,
          mode: degraded.mode,
          error: degraded.error,
        })
      }
    } else if (downSince !== undefined) {
      const downMs = clock.now() - downSince
      downSince = undefined
      events.emit('recovered', { name, downMs })
    }
    if (decision.allowed) {
      if (events.has('allowed')) {
        events.emit('allowed', { name, cost, remaining: decision.remaining })
      }
    } else if (events.has('rejected')) {
      events.emit('rejected', { name, cost, retryAfterMs: decision.retryAfterMs })
    }
    return decision
  }

  return {
    kind: 'rate-limit',
    name,
    events,
    algorithm,
    store,
    consume(key, cost = 1) {
      checkCost(cost)
      const decision = store.consume(prefix + key, algorithm, cost)
      return decision instanceof Promise
        ? decision.then((d) => report(d, cost))
        : report(decision, cost)
    },
    async refund(key, cost = 1) {
      checkCost(cost)
      if (cost === 0) return
      try {
        await store.consume(prefix + key, algorithm, -cost)
      } catch {
        // A refund is a courtesy: losing one never fails the request it was for.
      }
    },
  }
}
