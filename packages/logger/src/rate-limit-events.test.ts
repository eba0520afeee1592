import type { Emitter, RateLimitEventMap } from '@sturdy/core'
import { createEmitter } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import type { RedisClient } from '@sturdy/rate-limit'
import { rateLimiter, redisStore, slidingWindow } from '@sturdy/rate-limit'
import { describe, expect, it } from 'vitest'
import { logPolicyEvents } from './index.ts'
import { capture } from './testing.ts'

const deadRedis: RedisClient = {
  evalsha: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
  scriptLoad: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
}

describe('logPolicyEvents with @sturdy/rate-limit', () => {
  it('logs one warning per store failure (not per request decided meanwhile) and refusals at debug', async () => {
    const clock = manualClock()
    const limiter = rateLimiter({
      name: 'api',
      algorithm: slidingWindow({ limit: 1 }),
      store: redisStore({ client: deadRedis, retryMs: 1000, clock }),
      clock,
    })
    const { logger, lines } = capture({ level: 'debug' })
    const stop = logPolicyEvents(limiter, logger)
    await limiter.consume('203.0.113.9') // error → local: allowed
    await limiter.consume('203.0.113.9') // unavailable → local: refused
    stop()
    const got = lines()
    expect(got.map((l) => [l.level, l.msg])).toEqual([
      [40, 'rate limit store unavailable, deciding by fallback'],
      [20, 'rate limit exceeded'],
    ])
    expect(got[0]).toMatchObject({
      policy: 'api',
      kind: 'rate-limit',
      reason: 'error',
      fallback: 'local',
      err: { type: 'Error', message: 'connect ECONNREFUSED 127.0.0.1:6379' },
    })
    expect(got[1]).toMatchObject({
      policy: 'api',
      kind: 'rate-limit',
      cost: 1,
      retry_after_ms: 120_000,
    })
    expect(JSON.stringify(got)).not.toContain('203.0.113.9')
  })

  it('logs the recovery with how long the store was down; levels are configurable', () => {
    const events: Emitter<RateLimitEventMap> = createEmitter()
    const { logger, lines } = capture({ level: 'debug' })
    logPolicyEvents({ kind: 'rate-limit', name: 'r', events }, logger, {
      levels: { rateLimited: 'silent', rateLimitRecovered: 'warn' },
    })
    events.emit('rejected', { name: 'r', cost: 5, retryAfterMs: Number.POSITIVE_INFINITY })
    events.emit('recovered', { name: 'r', downMs: 1234.4 })
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'rate limit store recovered',
        policy: 'r',
        down_ms: 1234,
      }),
    ])
  })
})
