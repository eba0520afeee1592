/**
 * @module
 * Test helpers of this package (not published): the real redis-server the vitest global
 * setup started.
 */

import { describe, inject } from 'vitest'
import type {} from '../../../scripts/redis-global-setup.ts'

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
