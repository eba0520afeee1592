import { circuitBreaker, isBrokenCircuitError } from '@sturdy/breaker'
import { compose } from '@sturdy/core'
import { manualClock, seededRandom } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { retry } from '@sturdy/retry'
import { deadline, timeout } from '@sturdy/timeout'
import { Hono } from 'hono'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { httpMetrics } from './http-metrics.ts'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'
import { policyMetrics } from './policy-metrics.ts'

async function scrape(registry: Registry) {
  return parseExposition((await metricsHandler({ registry })()).body)
}

const fail = async (): Promise<never> => {
  throw new Error('down')
}

describe('policyMetrics with the real @sturdy/breaker, @sturdy/retry and @sturdy/timeout', () => {
  it('moves the breaker metrics when a real breaker trips, half-opens and closes', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const breaker = circuitBreaker({ name: 'payments', clock, openMs: 1000 })
    const stop = policyMetrics({ registry }).observe(breaker)

    for (let i = 0; i < 6; i++) await expect(breaker.execute(fail)).rejects.toThrow('down')
    const rejected = await breaker.execute(async () => 'never').catch((e: unknown) => e)
    expect(isBrokenCircuitError(rejected)).toBe(true)

    let m = await scrape(registry)
    expect(m.value('sturdy_breaker_state', { name: 'payments' })).toBe(2)
    expect(
      m.value('sturdy_breaker_transitions_total', { name: 'payments', from: 'closed', to: 'open' }),
    ).toBe(1)
    expect(m.value('sturdy_breaker_calls_total', { name: 'payments', outcome: 'failure' })).toBe(6)
    expect(m.value('sturdy_breaker_calls_total', { name: 'payments', outcome: 'rejected' })).toBe(1)

    // The breaker half-opens lazily; the scrape itself reads the state.
    clock.advance(1000)
    m = await scrape(registry)
    expect(m.value('sturdy_breaker_state', { name: 'payments' })).toBe(1)
    expect(
      m.value('sturdy_breaker_transitions_total', {
        name: 'payments',
        from: 'open',
        to: 'half-open',
      }),
    ).toBe(1)

    await breaker.execute(async () => 'ok')
    m = await scrape(registry)
    expect(m.value('sturdy_breaker_state', { name: 'payments' })).toBe(0)
    expect(m.value('sturdy_breaker_calls_total', { name: 'payments', outcome: 'success' })).toBe(1)
    stop()
    expect((await scrape(registry)).value('sturdy_breaker_state', { name: 'payments' })).toBe(
      undefined,
    )
  })

  it('counts real retry attempts around a breaker', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const policies = policyMetrics({ registry })
    const users = retry({ name: 'users', maxAttempts: 3, clock, random: seededRandom(1) })
    const breaker = circuitBreaker({ name: 'users-breaker', clock })
    policies.observe(users)
    policies.observe(breaker)

    let calls = 0
    const run = compose(users, breaker).execute(async () => {
      calls++
      clock.advance(25)
      if (calls < 3) throw new Error('flaky')
      return 'ok'
    })
    let settled = false
    void run.finally(() => {
      settled = true
    })
    for (let i = 0; i < 100 && !settled; i++) await clock.advanceAsync(1000)
    await expect(run).resolves.toBe('ok')

    const m = await scrape(registry)
    expect(m.value('sturdy_retry_attempts_total', { name: 'users', outcome: 'failure' })).toBe(2)
    expect(m.value('sturdy_retry_attempts_total', { name: 'users', outcome: 'success' })).toBe(1)
    expect(
      m.value('sturdy_retry_attempt_duration_seconds_sum', { name: 'users', outcome: 'success' }),
    ).toBeCloseTo(0.025, 10)
    expect(
      m.value('sturdy_breaker_calls_total', { name: 'users-breaker', outcome: 'failure' }),
    ).toBe(2)
    expect(m.value('sturdy_breaker_state', { name: 'users-breaker' })).toBe(0)
  })

  it('counts a real per-call timeout', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const db = timeout(50, { name: 'db', clock })
    policyMetrics({ registry }).observe(db)
    const call = db.execute(
      ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    )
    const outcome = call.then(
      () => 'resolved',
      (e: unknown) => e,
    )
    await clock.advanceAsync(100)
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' })
    const m = await scrape(registry)
    expect(m.value('sturdy_timeouts_total', { name: 'db', scope: 'policy' })).toBe(1)
    expect(clock.pending()).toBe(0)
  })

  it('records a request deadline as a 504 and a deadline timeout, end to end in Hono', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const budget = deadline({ budgetMs: 50, clock })
    policyMetrics({ registry }).observe(budget)
    const app = new Hono().use(sturdy(httpMetrics({ registry, clock }), budget))
    // The aborted handler's rejection would otherwise be logged by Hono's default handler.
    app.onError((_error, c) => c.text('aborted', 500))
    app.get(
      '/slow/:id',
      (c) =>
        new Promise<Response>((_, reject) =>
          c.var.signal.addEventListener('abort', () => reject(c.var.signal.reason)),
        ),
    )
    const response = app.request('/slow/1')
    await clock.advanceAsync(100)
    expect((await response).status).toBe(504)
    const m = await scrape(registry)
    expect(m.series('sturdy_timeouts_total')).toEqual([
      'sturdy_timeouts_total{name="deadline",scope="deadline"}',
    ])
    expect(m.value('sturdy_timeouts_total', { name: 'deadline', scope: 'deadline' })).toBe(1)
    const labels = { method: 'GET', route: '/slow/:id', status_code: '504' }
    expect(m.value('http_server_request_duration_seconds_count', labels)).toBe(1)
    expect(m.value('http_server_request_duration_seconds_sum', labels)).toBeGreaterThanOrEqual(0.05)
    expect(clock.pending()).toBe(0)
  })
})
