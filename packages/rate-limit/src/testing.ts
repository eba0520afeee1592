/**
 * @module
 * Test helpers of this package (not published): the real redis-server the vitest global
 * setup started, and ioredis connections to it that tests close.
 */

import { Redis } from 'ioredis'
import { describe, inject } from 'vitest'
import type {} from '../../../scripts/redis-global-setup.ts'
import type { RedisClient } from './redis-client.ts'
import { ioredisClient } from './redis-client.ts'

/** The shared test Redis, or '' when redis-server could not be installed. */
export const REDIS_URL: string = inject('redisUrl')

/**
 * `describe` for tests that need Redis: skipped only when redis-server cannot be
 * installed here, with the reason in the suite's name.
 */
export function describeRedis(name: string, fn: () => void): void {
  if (REDIS_URL !== '') describe(name, fn)
  else describe.skip(`${name} — skipped: ${inject('redisSkipReason')}`, fn)
}

/** An ioredis connection for one test, and the store client over it. */
export interface TestConnection {
  readonly redis: Redis
  readonly client: RedisClient
  close(): Promise<void>
}

/**
 * Connects to `url` (the shared test Redis by default) with the settings the README
 * recommends: no offline queue and no per-command retries, so a dead Redis fails fast.
 */
export async function connect(url: string = REDIS_URL): Promise<TestConnection> {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: () => 50,
  })
  await redis.connect()
  return {
    redis,
    client: ioredisClient(redis),
    async close() {
      redis.disconnect()
    },
  }
}

/** A prefix no other test uses, so tests sharing the Redis never see each other's keys. */
export function uniquePrefix(): string {
  return `test:${Math.random().toString(36).slice(2)}:`
}

export type { Replicas } from '../../../scripts/replicas.ts'
export { startReplicas } from '../../../scripts/replicas.ts'
