import type { Clock } from '@sturdy/core'
import { systemClock, TimeoutError } from '@sturdy/core'
import type { Degraded, RateLimitAlgorithm, RateLimitDecision } from './algorithm.ts'
import { memoryStore } from './memory-store.ts'
import type { RedisClient } from './redis-client.ts'
import type { RateLimitStore } from './store.ts'
import { TimeoutQueue } from './timeout-queue.ts'

/** Options of `redisStore`. */
export interface RedisStoreOptions {
  /** The Redis connection, through an adapter (see `ioredisClient`). */
  client: RedisClient
  /** Prefix of every key the store writes. @default 'sturdy:rl:' */
  prefix?: string
  /** How long a decision may wait for Redis before the fallback decides. @default 100 */
  timeoutMs?: number
  /**
   * What decides while Redis cannot: `local` — the same algorithm on this process's own
   * state (each replica then enforces the full limit by itself); `allow` — admit
   * everything; `deny` — refuse everything. @default 'local'
   */
  fallback?: 'local' | 'allow' | 'deny'
  /** The store `local` decides on. @default memoryStore({ clock }) */
  local?: RateLimitStore
  /**
   * After a timeout or error, decisions skip Redis for this long (so a dead Redis costs
   * no request a timeout); then one decision probes it while the others keep deciding
   * locally. @default 1000
   */
  retryMs?: number
  /** Time source (for timeouts and `retryMs`; never for the limits themselves). @default systemClock */
  clock?: Clock
}

/** A Redis store, with whether it currently decides on Redis. */
export interface RedisStore extends RateLimitStore {
  /** `up`, `down` (deciding by the fallback) or `probing` (one call is testing Redis). */
  readonly status: 'up' | 'down' | 'probing'
}

/**
 * Keeps rate-limit state in Redis, shared by every replica. Each decision is one round
 * trip: one Lua script (`EVALSHA`) that reads the time from Redis (`TIME`), applies the
 * algorithm and writes the result, atomically — so replicas never race, and their clocks
 * never matter. Keys expire when their state is back to full.
 *
 * Redis down or slow never fails a request: a decision that gets no answer within
 * `timeoutMs` (or an error) is made by the fallback (by default the same limit on local
 * state) and marked `degraded`, so the limiter emits a `fallback` event; for `retryMs`
 * after that, decisions go straight to the fallback, then one probes Redis again. A call
 * that timed out may still reach Redis later and count there.
 *
 * @param options see `RedisStoreOptions`
 * @returns the store
 * @example
 * import { Redis } from 'ioredis'
 * import { ioredisClient, rateLimiter, redisStore, slidingWindow } from '@sturdy/rate-limit'
 *
 * const redis = new Redis('redis://127.0.0.1:6379', { enableOfflineQueue: false })
 * const limiter = rateLimiter({
 *   name: 'api',
 *   algorithm: slidingWindow({ limit: 100, windowMs: 60_000 }),
 *   store: redisStore({ client: ioredisClient(redis) }),
 * })
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new Store(options)
}

class Store implements RedisStore {
  readonly #client: RedisClient
  readonly #prefix: string
  readonly #mode: 'local' | 'allow' | 'deny'
  readonly #local: RateLimitStore
  readonly #retryMs: number
  readonly #clock: Clock
  readonly #timeouts: TimeoutQueue
  readonly #shas = new Map<string, string>()
  readonly #loading = new Map<string, Promise<string>>()
  #status: 'up' | 'down' | 'probing' = 'up'
  #retryAt = 0

  constructor(options: RedisStoreOptions) {
    if (typeof options.client?.evalsha !== 'function') {
      throw new TypeError('redisStore needs a client: redisStore({ client: ioredisClient(redis) })')
    }
    const timeoutMs = options.timeoutMs ?? 100
    if (!(timeoutMs > 0)) throw new RangeError(`redisStore timeoutMs must be > 0, got ${timeoutMs}`)
    this.#client = options.client
    this.#prefix = options.prefix ?? 'sturdy:rl:'
    this.#mode = options.fallback ?? 'local'
    this.#clock = options.clock ?? systemClock
    this.#local = options.local ?? memoryStore({ clock: this.#clock })
    this.#retryMs = Math.max(0, options.retryMs ?? 1000)
    this.#timeouts = new TimeoutQueue(
      this.#clock,
      timeoutMs,
      () => new TimeoutError(`Redis did not answer within ${timeoutMs} ms`, timeoutMs),
    )
  }

  get status(): 'up' | 'down' | 'probing' {
    return this.#status
  }

  consume(
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
  ): RateLimitDecision | Promise<RateLimitDecision> {
    if (this.#status !== 'up') {
      if (this.#status === 'probing' || this.#clock.now() < this.#retryAt) {
        return this.#fallback(key, algorithm, cost, 'unavailable', undefined)
      }
      this.#status = 'probing'
    }
    return this.#timeouts
      .race(this.#run(algorithm, this.#prefix + key, algorithm.scriptArgs(cost)))
      .then((reply) => algorithm.fromReply(reply, cost))
      .then(
        (decision) => {
          this.#status = 'up'
          return decision
        },
        (error: unknown) => {
          this.#status = 'down'
          this.#retryAt = this.#clock.now() + this.#retryMs
          const reason = error instanceof TimeoutError ? 'timeout' : 'error'
          return this.#fallback(key, algorithm, cost, reason, error)
        },
      )
  }

  #run(algorithm: RateLimitAlgorithm, key: string, args: string[]): Promise<unknown> {
    const script = algorithm.script
    const sha = this.#shas.get(script)
    if (sha === undefined) return this.#load(script).then((s) => this.#evalsha(s, key, args))
    return this.#evalsha(sha, key, args).catch((error: unknown) => {
      // Redis restarted (or SCRIPT FLUSH): load the script again, once.
      if (!isNoScript(error)) throw error
      this.#shas.delete(script)
      return this.#load(script).then((s) => this.#evalsha(s, key, args))
    })
  }

  #evalsha(sha: string, key: string, args: string[]): Promise<unknown> {
    try {
      return this.#client.evalsha(sha, [key], args)
    } catch (error) {
      // An adapter that throws instead of rejecting still never fails the request.
      return Promise.reject(error)
    }
  }

  #load(script: string): Promise<string> {
    let loading = this.#loading.get(script)
    if (loading === undefined) {
      let load: Promise<string>
      try {
        load = this.#client.scriptLoad(script)
      } catch (error) {
        load = Promise.reject(error)
      }
      loading = load.then(
        (sha) => {
          this.#shas.set(script, sha)
          this.#loading.delete(script)
          return sha
        },
        (error: unknown) => {
          this.#loading.delete(script)
          throw error
        },
      )
      this.#loading.set(script, loading)
    }
    return loading
  }

  #fallback(
    key: string,
    algorithm: RateLimitAlgorithm,
    cost: number,
    reason: Degraded['reason'],
    error: unknown,
  ): RateLimitDecision | Promise<RateLimitDecision> {
    const degraded: Degraded = { reason, mode: this.#mode, error }
    if (this.#mode === 'local') {
      const local = this.#local.consume(key, algorithm, cost)
      return local instanceof Promise
        ? local.then((d) => ({ ...d, degraded }))
        : { ...local, degraded }
    }
    const allowed = this.#mode === 'allow' || cost < 0
    const wait = allowed ? 0 : Math.max(1, this.#retryMs)
    return {
      allowed,
      limit: algorithm.limit,
      windowMs: algorithm.windowMs,
      remaining: allowed ? algorithm.limit : 0,
      resetMs: wait,
      retryAfterMs: wait,
      degraded,
    }
  }
}

function isNoScript(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error)
  return message.startsWith('NOSCRIPT')
}
