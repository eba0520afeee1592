/**
 * The few Redis commands Sturdy needs, so any client can be plugged in. `ioredisClient`
 * adapts ioredis (the tested client); the README shows the same for node-redis.
 */
export interface RedisClient {
  /** `EVALSHA sha numkeys ...keys ...args`: runs a loaded script. */
  evalsha(sha: string, keys: readonly string[], args: readonly string[]): Promise<unknown>
  /** `SCRIPT LOAD script`: returns the script's SHA-1. */
  scriptLoad(script: string): Promise<string>
}

/** The part of an ioredis client (`Redis` or `Cluster`, v5 or later) the adapter calls. */
export interface IoredisLike {
  evalsha(sha: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>
  script(subcommand: 'LOAD', script: string): Promise<unknown>
}

/**
 * Adapts an ioredis client. ioredis queues commands while it (re)connects; pass
 * `enableOfflineQueue: false` so a command fails at once when Redis is down instead of
 * waiting for the store's timeout.
 *
 * @param redis an ioredis `Redis` (or `Cluster`)
 * @returns the client the Redis stores use
 * @example
 * import { Redis } from 'ioredis'
 * import { ioredisClient, redisStore } from '@sturdy/rate-limit'
 *
 * const store = redisStore({
 *   client: ioredisClient(new Redis('redis://127.0.0.1:6379', { enableOfflineQueue: false })),
 * })
 */
export function ioredisClient(redis: IoredisLike): RedisClient {
  return {
    evalsha: (sha, keys, args) => redis.evalsha(sha, keys.length, ...keys, ...args),
    scriptLoad: async (script) => String(await redis.script('LOAD', script)),
  }
}
