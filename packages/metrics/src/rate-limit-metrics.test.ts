import type { Emitter, RateLimitEventMap } from '@sturdy/core'
import { createEmitter } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import type { RedisClient } from '@sturdy/rate-limit'
import { rateLimiter, redisStore, slidingWindow } from '@sturdy/rate-limit'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'
import { policyMetrics } from './policy-metrics.ts'

async function scrape(registry: Registry) {
  return parseExposition((await metricsHandler({ registry })()).body)
}

/** A Redis connection that is down: every command fails at once. */
const deadRedis: RedisClient = {
  evalsha: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
  scriptLoad: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')),
}

describe('policyMetrics with @sturdy/rate-limit', () => {
  it('counts decisions by outcome, never by key', async () => {
    const registry = new Registry()
    const limiter = rateLimiter({
      name: 'api',
      algorithm: slidingWindow({ limit: 2 }),
      clock: manualClock(),
    })
    const stop = policyMetrics({ registry }).observe(limiter)
    for (const key of ['203.0.113.1', '203.0.113.1', '203.0.113.1', '203.0.113.2']) {
      await limiter.consume(key)
    }
    const m = await scrape(registry)
    expect(m.value('sturdy_rate_limit_decisions_total', { name: 'api', outcome: 'allowed' })).toBe(
      3,
    )
    expect(m.value('sturdy_rate_limit_decisions_total', { name: 'api', outcome: 'rejected' })).toBe(
      1,
    )
    expect(m.samples.some((s) => Object.values(s.labels).some((v) => v.startsWith('203.')))).toBe(
      false,
    )
    stop()
    await limiter.consume('203.0.113.3')
    expect(
      (await scrape(registry)).value('sturdy_rate_limit_decisions_total', {
        name: 'api',
        outcome: 'allowed',
      }),
    ).toBe(3)
  })

  it('counts fallbacks by reason and shows the store as degraded while Redis is down', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const limiter = rateLimiter({
      name: 'shared',
      algorithm: slidingWindow({ limit: 5 }),
      store: redisStore({ client: deadRedis, retryMs: 1000, clock }),
      clock,
    })
    policyMetrics({ registry }).observe(limiter)
    await limiter.consume('k') // fails: error
    await limiter.consume('k') // within retryMs: unavailable
    const m = await scrape(registry)
    expect(m.value('sturdy_rate_limit_fallbacks_total', { name: 'shared', reason: 'error' })).toBe(
      1,
    )
    expect(
      m.value('sturdy_rate_limit_fallbacks_total', { name: 'shared', reason: 'unavailable' }),
    ).toBe(1)
    expect(m.value('sturdy_rate_limit_store_degraded', { name: 'shared' })).toBe(1)
    expect(
      m.value('sturdy_rate_limit_decisions_total', { name: 'shared', outcome: 'allowed' }),
    ).toBe(2)
  })

  it('the degraded gauge returns to 0 on recovery, and its series goes with the disposer', async () => {
    const registry = new Registry()
    const events: Emitter<RateLimitEventMap> = createEmitter()
    const stop = policyMetrics({ registry }).observe({ kind: 'rate-limit', name: 'r', events })
    events.emit('fallback', {
      name: 'r',
      reason: 'timeout',
      mode: 'local',
      error: new Error('slow'),
    })
    expect((await scrape(registry)).value('sturdy_rate_limit_store_degraded', { name: 'r' })).toBe(
      1,
    )
    events.emit('recovered', { name: 'r', downMs: 1200 })
    expect((await scrape(registry)).value('sturdy_rate_limit_store_degraded', { name: 'r' })).toBe(
      0,
    )
    stop()
    expect(
      (await scrape(registry)).value('sturdy_rate_limit_store_degraded', { name: 'r' }),
    ).toBeUndefined()
  })
})
