import { chaosFault, chaosMiddleware } from '@sturdy/chaos'
import { sturdy } from '@sturdy/hono'
import { hedge, retryBudget } from '@sturdy/retry'
import { Hono } from 'hono'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'
import { policyMetrics } from './policy-metrics.ts'

async function scrape(registry: Registry) {
  return parseExposition((await metricsHandler({ registry })()).body)
}

describe('policyMetrics with the real @sturdy/chaos and hedge()', () => {
  it('counts injections by kind and scope, and shows the rate in force', async () => {
    const registry = new Registry()
    const metrics = policyMetrics({ registry })
    const fault = chaosFault({ name: 'db-down', injectionRate: 1 })
    const slow = chaosMiddleware({
      name: 'slow-users',
      kind: 'latency',
      latencyMs: 1,
      injectionRate: 0.5,
    })
    const stopFault = metrics.observe(fault)
    metrics.observe(slow)

    for (let i = 0; i < 3; i++) await fault.execute(async () => 1).catch(() => undefined)
    const outage = chaosMiddleware({ name: 'outage', kind: 'fault', injectionRate: 1 })
    metrics.observe(outage)
    const app = new Hono().use(sturdy(outage))
    app.get('/', (c) => c.text('ok'))
    expect((await app.request('/')).status).toBe(503)

    let m = await scrape(registry)
    expect(
      m.value('sturdy_chaos_injections_total', { name: 'db-down', kind: 'fault', scope: 'policy' }),
    ).toBe(3)
    expect(
      m.value('sturdy_chaos_injections_total', {
        name: 'outage',
        kind: 'fault',
        scope: 'middleware',
      }),
    ).toBe(1)
    expect(m.value('sturdy_chaos_injection_rate', { name: 'db-down' })).toBe(1)
    expect(m.value('sturdy_chaos_injection_rate', { name: 'slow-users' })).toBe(0.5)

    slow.update({ enabled: false })
    fault.update({ injectionRate: 0.25 })
    m = await scrape(registry)
    expect(m.value('sturdy_chaos_injection_rate', { name: 'slow-users' })).toBe(0)
    expect(m.value('sturdy_chaos_injection_rate', { name: 'db-down' })).toBe(0.25)

    stopFault()
    m = await scrape(registry)
    expect(m.value('sturdy_chaos_injection_rate', { name: 'db-down' })).toBeUndefined()
    await fault.execute(async () => 1).catch(() => undefined)
    expect(
      (await scrape(registry)).value('sturdy_chaos_injections_total', {
        name: 'db-down',
        kind: 'fault',
        scope: 'policy',
      }),
    ).toBe(3) // unsubscribed: the fourth injection is not counted
  })

  it('counts hedges by trigger, wins and budget refusals', async () => {
    const registry = new Registry()
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 0.2 }) // 2 hedges
    const policy = hedge({ name: 'users-api', delayMs: 5, budget })
    policyMetrics({ registry }).observe(policy)

    let m = await scrape(registry)
    expect(m.value('sturdy_hedges_total', { name: 'users-api', trigger: 'delay' })).toBe(0)
    expect(m.value('sturdy_hedge_wins_total', { name: 'users-api' })).toBe(0)

    // A first attempt of 30 s outlasts any pause of a busy host: only a hedge can win it.
    const slowFirst = (firstMs = 30_000) =>
      policy.execute(
        ({ attempt, signal }) =>
          new Promise<number>((resolve, reject) => {
            const t = setTimeout(() => resolve(attempt), attempt === 1 ? firstMs : 1)
            signal.addEventListener('abort', () => {
              clearTimeout(t)
              reject(signal.reason)
            })
          }),
      )
    expect(await slowFirst()).toBe(2)
    await policy.execute(async ({ attempt }) => {
      if (attempt === 1) throw new Error('down')
      return attempt
    })
    expect(await slowFirst(200)).toBe(1) // budget spent: no hedge
    m = await scrape(registry)
    expect(m.value('sturdy_hedges_total', { name: 'users-api', trigger: 'delay' })).toBe(1)
    expect(m.value('sturdy_hedges_total', { name: 'users-api', trigger: 'failure' })).toBe(1)
    expect(m.value('sturdy_hedge_wins_total', { name: 'users-api' })).toBe(2)
    expect(m.value('sturdy_hedge_budget_exhausted_total', { name: 'users-api' })).toBe(1)
  })
})
