import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { adaptiveThrottle, concurrencyLimit, concurrencyLimiter } from '@sturdy/limit'
import { Hono } from 'hono'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'
import { policyMetrics } from './policy-metrics.ts'

async function scrape(registry: Registry) {
  return parseExposition((await metricsHandler({ registry })()).body)
}

describe('policyMetrics with the real @sturdy/limit', () => {
  it('reports limit, in-flight and queued at scrape time, and shed by reason and priority', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const limiter = concurrencyLimiter({
      name: 'db',
      limit: 2,
      maxQueue: 1,
      queueTimeoutMs: 50,
      clock,
    })
    const stop = policyMetrics({ registry }).observe(limiter)
    const a = limiter.tryAcquire()
    limiter.tryAcquire()
    limiter.tryAcquire('sheddable')
    const waiting = limiter.acquire('critical').catch(() => 'refused')
    let m = await scrape(registry)
    expect(m.value('sturdy_limit_concurrency_limit', { name: 'db' })).toBe(2)
    expect(m.value('sturdy_limit_inflight', { name: 'db' })).toBe(2)
    expect(m.value('sturdy_limit_queued', { name: 'db' })).toBe(1)
    expect(
      m.value('sturdy_limit_shed_total', { name: 'db', reason: 'limit', priority: 'sheddable' }),
    ).toBe(1)
    expect(
      m.value('sturdy_limit_shed_total', { name: 'db', reason: 'limit', priority: 'normal' }),
    ).toBe(0)
    expect(m.types.get('sturdy_limit_shed_total')).toBe('counter')
    clock.advance(50)
    expect(await waiting).toBe('refused')
    a?.release()
    m = await scrape(registry)
    expect(m.value('sturdy_limit_inflight', { name: 'db' })).toBe(1)
    expect(m.value('sturdy_limit_queued', { name: 'db' })).toBe(0)
    expect(
      m.value('sturdy_limit_shed_total', {
        name: 'db',
        reason: 'queue-timeout',
        priority: 'critical',
      }),
    ).toBe(1)
    stop()
    m = await scrape(registry)
    expect(m.series('sturdy_limit_inflight')).toEqual([])
  })

  it('observes the server middleware: sheds from a burst show up under its name', async () => {
    const registry = new Registry()
    const mw = concurrencyLimit({ limit: 1 })
    policyMetrics({ registry }).observe(mw)
    const app = new Hono()
    app.use(sturdy(mw))
    let open: () => void = () => {}
    app.get('/x', async (c) => {
      await new Promise<void>((r) => (open = r))
      return c.text('ok')
    })
    const first = app.request('/x')
    await new Promise((r) => setImmediate(r))
    expect((await app.request('/x')).status).toBe(503)
    open()
    await first
    const m = await scrape(registry)
    expect(
      m.value('sturdy_limit_shed_total', {
        name: 'http-server',
        reason: 'limit',
        priority: 'normal',
      }),
    ).toBe(1)
    expect(m.value('sturdy_limit_inflight', { name: 'http-server' })).toBe(0)
  })

  it('a throttle has no limit series, and a registry with no limiter has no limit metrics', async () => {
    const registry = new Registry()
    const metrics = policyMetrics({ registry })
    let m = await scrape(registry)
    expect(m.types.has('sturdy_limit_shed_total')).toBe(false)
    let draw = 0.99999
    const throttle = adaptiveThrottle({ name: 'orders', random: () => draw })
    metrics.observe(throttle)
    await throttle.execute(async () => ({ status: 503 }))
    draw = 0
    await throttle.execute(async () => ({ status: 200 })).catch(() => {})
    m = await scrape(registry)
    expect(m.series('sturdy_limit_concurrency_limit')).toEqual([])
    expect(
      m.value('sturdy_limit_shed_total', {
        name: 'orders',
        reason: 'throttled',
        priority: 'normal',
      }),
    ).toBe(1)
  })
})
