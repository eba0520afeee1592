import { circuitBreaker, isBrokenCircuitError } from '@sturdy/breaker'
import { compose } from '@sturdy/core'
import { manualClock, seededRandom } from '@sturdy/core/testing'
import { retry } from '@sturdy/retry'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'
import { policyMetrics } from './policy-metrics.ts'

async function scrape(registry: Registry) {
  return parseExposition((await metricsHandler({ registry })()).body)
}

const fail = async (): Promise<never> => {
  throw new Error('down')
}

describe('policyMetrics with the real @sturdy/breaker and @sturdy/retry', () => {
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
})
