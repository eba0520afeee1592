import type { BreakerStateStore, IoredisBreakerLike, IoredisSubscriberLike } from '@sturdy/breaker'
import { ioredisBreakerClient, redisBreakerStore } from '@sturdy/breaker'
import type { Lifecycle } from '@sturdy/lifecycle'
import type { RateLimitStore } from '@sturdy/rate-limit'
import { ioredisClient, redisStore } from '@sturdy/rate-limit'
import { Redis } from 'ioredis'
import type { Logger } from 'pino'

/** The stores gateway replicas share through Redis (`REDIS_URL`). */
export interface SharedState {
  /** `@sturdy/rate-limit`'s Redis store: one quota however many gateways. */
  rateLimit: RateLimitStore
  /** `@sturdy/breaker`'s shared store: a trip through one gateway opens the others. */
  breakers: BreakerStateStore
}

/**
 * Connects to Redis for the state gateway replicas share, or returns undefined when
 * `url` is. Redis never fails a request: the connection fails fast while Redis is down
 * (no offline queue, no per-command retries), so the rate limit decides locally and
 * the breakers keep their local state until it is back (the stores' own fallbacks).
 * Both connections — commands, and the breakers' subscriber — close with the
 * lifecycle's resources.
 */
export function sharedState(
  url: string | undefined,
  life: Lifecycle,
  logger: Logger,
): SharedState | undefined {
  if (url === undefined) return undefined
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  let down = false
  redis.on('error', (error: Error) => {
    // Reconnect errors repeat every retry: log the first of each outage only.
    if (down) return
    down = true
    logger.warn({ err: error, redis: redactedUrl(url) }, 'redis unavailable: shared state is local')
  })
  redis.on('ready', () => {
    if (down) logger.info({ redis: redactedUrl(url) }, 'redis back: shared state resumes')
    down = false
  })
  // The breaker adapter opens a subscriber with `duplicate()`; keep it to close it.
  const subscribers: IoredisSubscriberLike[] = []
  const forBreakers: IoredisBreakerLike = {
    eval: (script, numKeys, ...rest) => redis.eval(script, numKeys, ...rest),
    duplicate: (override) => {
      const subscriber = redis.duplicate(override)
      subscribers.push(subscriber)
      return subscriber
    },
  }
  life.onClose('redis', async () => {
    for (const subscriber of subscribers) subscriber.disconnect()
    // QUIT lets in-flight commands finish; a Redis that is down cannot answer it.
    await redis.quit().catch(() => redis.disconnect())
  })
  return {
    rateLimit: redisStore({ client: ioredisClient(redis) }),
    breakers: redisBreakerStore({ client: ioredisBreakerClient(forBreakers) }),
  }
}

/** The URL without its password, for logs. */
function redactedUrl(url: string): string {
  const u = new URL(url)
  if (u.password !== '') u.password = '***'
  return u.toString()
}
