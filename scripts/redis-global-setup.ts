/**
 * vitest global setup for packages with Redis stores: starts one real redis-server on a
 * free 127.0.0.1 port for the whole run and stops it by PID afterwards. Tests read its
 * URL with `inject('redisUrl')`. When redis-server is missing and cannot be installed,
 * `redisUrl` is empty and `redisSkipReason` says why, so those tests skip saying so; any
 * other failure to start fails the run.
 */
import type { TestProject } from 'vitest/node'
import { RedisUnavailableError, startRedisServer } from './redis-server.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** `redis://127.0.0.1:PORT`, or '' when redis-server could not be installed. */
    redisUrl: string
    /** Why `redisUrl` is empty. */
    redisSkipReason: string
  }
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  try {
    const server = await startRedisServer()
    project.provide('redisUrl', server.url)
    project.provide('redisSkipReason', '')
    return () => server.stop()
  } catch (error) {
    if (!(error instanceof RedisUnavailableError)) throw error
    project.provide('redisUrl', '')
    project.provide('redisSkipReason', error.message)
    return undefined
  }
}
