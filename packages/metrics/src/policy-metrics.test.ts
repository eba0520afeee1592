import type {
  BreakerEventMap,
  CircuitState,
  Emitter,
  RetryEventMap,
  TimeoutEventMap,
} from '@sturdy/core'
import { createEmitter } from '@sturdy/core'
import fc from 'fast-check'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'
import { BREAKER_STATE_VALUES, policyMetrics } from './policy-metrics.ts'

async function scrape(registry: Registry) {
  return parseExposition((await metricsHandler({ registry })()).body)
}

/** A hand-made breaker: the core contract, nothing from @sturdy/breaker. */
function fakeBreaker(name: string) {
  const events: Emitter<BreakerEventMap> = createEmitter()
  let state: CircuitState = 'closed'
  return {
    kind: 'breaker' as const,
    name,
    events,
    get state() {
      return state
    },
    move(to: CircuitState, reason: BreakerEventMap['stateChange']['reason'] = 'reset') {
      const from = state
      state = to
      events.emit('stateChange', { name, from, to, reason })
    },
  }
}

describe('policyMetrics', () => {
  it('moves the breaker metrics when a breaker trips and recovers', async () => {
    const registry = new Registry()
    const breaker = fakeBreaker('payments')
    const stop = policyMetrics({ registry }).observe(breaker)

    let m = await scrape(registry)
    expect(m.value('sturdy_breaker_state', { name: 'payments' })).toBe(0)
    expect(m.series('sturdy_breaker_transitions_total')).toEqual([])
    expect(m.value('sturdy_breaker_calls_total', { name: 'payments', outcome: 'rejected' })).toBe(0)

    for (let i = 0; i < 5; i++) {
      breaker.events.emit('failure', { name: 'payments', durationMs: 3, slow: false, error: 1 })
    }
    breaker.move('open', 'consecutive-failures')
    breaker.events.emit('rejected', { name: 'payments', state: 'open', retryAfterMs: 900 })
    breaker.events.emit('rejected', { name: 'payments', state: 'open', retryAfterMs: 800 })

    m = await scrape(registry)
    expect(m.value('sturdy_breaker_state', { name: 'payments' })).toBe(2)
    expect(
      m.value('sturdy_breaker_transitions_total', { name: 'payments', from: 'closed', to: 'open' }),
    ).toBe(1)
    expect(m.value('sturdy_breaker_calls_total', { name: 'payments', outcome: 'failure' })).toBe(5)
    expect(m.value('sturdy_breaker_calls_total', { name: 'payments', outcome: 'rejected' })).toBe(2)

    breaker.move('half-open', 'timeout-elapsed')
    breaker.events.emit('success', { name: 'payments', durationMs: 2, slow: false })
    breaker.move('closed', 'probe-succeeded')
    m = await scrape(registry)
    expect(m.value('sturdy_breaker_state', { name: 'payments' })).toBe(0)
    expect(m.series('sturdy_breaker_transitions_total').sort()).toEqual([
      'sturdy_breaker_transitions_total{from="closed",name="payments",to="open"}',
      'sturdy_breaker_transitions_total{from="half-open",name="payments",to="closed"}',
      'sturdy_breaker_transitions_total{from="open",name="payments",to="half-open"}',
    ])

    stop()
    stop()
    expect(breaker.events.has('stateChange')).toBe(false)
    expect(breaker.events.has('rejected')).toBe(false)
    m = await scrape(registry)
    expect(m.value('sturdy_breaker_state', { name: 'payments' })).toBeUndefined()
    breaker.move('open')
    expect(
      (await scrape(registry)).value('sturdy_breaker_transitions_total', {
        name: 'payments',
        from: 'closed',
        to: 'open',
      }),
    ).toBe(1)
  })

  it('re-reads a breaker state before each scrape', async () => {
    const registry = new Registry()
    const breaker = fakeBreaker('lazy')
    policyMetrics({ registry }).observe(breaker)
    // A state change nobody emitted (breakers move open → half-open lazily, on read).
    Object.defineProperty(breaker, 'state', { value: 'half-open' })
    expect((await scrape(registry)).value('sturdy_breaker_state', { name: 'lazy' })).toBe(1)
  })

  it('counts retry attempts by outcome, their latency, give-ups and budget refusals', async () => {
    const registry = new Registry()
    const events: Emitter<RetryEventMap> = createEmitter()
    policyMetrics({ registry }).observe({ kind: 'retry', name: 'users', events })
    let m = await scrape(registry)
    expect(m.value('sturdy_retry_attempts_total', { name: 'users', outcome: 'success' })).toBe(0)
    expect(m.value('sturdy_retry_budget_exhausted_total', { name: 'users' })).toBe(0)

    const end = (attempt: number, durationMs: number, outcome: 'success' | 'failure') =>
      events.emit('attemptEnd', { name: 'users', attempt, durationMs, outcome })
    end(1, 20, 'failure')
    end(2, 120, 'failure')
    end(3, 40, 'success')
    end(1, 3000, 'failure')
    events.emit('budgetExhausted', { name: 'users', attempt: 2 })
    events.emit('giveUp', { name: 'users', attempts: 1, error: 1, reason: 'not-retryable' })

    m = await scrape(registry)
    expect(m.value('sturdy_retry_attempts_total', { name: 'users', outcome: 'failure' })).toBe(3)
    expect(m.value('sturdy_retry_attempts_total', { name: 'users', outcome: 'success' })).toBe(1)
    expect(m.value('sturdy_retry_budget_exhausted_total', { name: 'users' })).toBe(1)
    expect(m.value('sturdy_retry_giveups_total', { name: 'users', reason: 'not-retryable' })).toBe(
      1,
    )
    const failed = { name: 'users', outcome: 'failure' }
    expect(m.value('sturdy_retry_attempt_duration_seconds_count', failed)).toBe(3)
    expect(m.value('sturdy_retry_attempt_duration_seconds_sum', failed)).toBeCloseTo(3.14, 10)
    expect(
      m.value('sturdy_retry_attempt_duration_seconds_bucket', { ...failed, le: '0.025' }),
    ).toBe(1)
    expect(m.value('sturdy_retry_attempt_duration_seconds_bucket', { ...failed, le: '2.5' })).toBe(
      2,
    )
  })

  it('counts timeouts by scope', async () => {
    const registry = new Registry()
    const events: Emitter<TimeoutEventMap> = createEmitter()
    policyMetrics({ registry }).observe({ kind: 'timeout', name: 'db', events })
    events.emit('timeout', { name: 'db', timeoutMs: 50, scope: 'policy' })
    events.emit('timeout', { name: 'db', timeoutMs: 50, scope: 'policy' })
    events.emit('timeout', { name: 'request', timeoutMs: 2000, scope: 'deadline' })
    const m = await scrape(registry)
    expect(m.value('sturdy_timeouts_total', { name: 'db', scope: 'policy' })).toBe(2)
    expect(m.value('sturdy_timeouts_total', { name: 'request', scope: 'deadline' })).toBe(1)
  })

  it('shares one registry between instances and bounds policy names', async () => {
    const registry = new Registry()
    const a = policyMetrics({ registry, maxNames: 2 })
    const b = policyMetrics({ registry, maxNames: 2 })
    expect(a.registry).toBe(registry)
    // A keyed set: one emitter, the key as name, no `state` of its own.
    const events: Emitter<BreakerEventMap> = createEmitter()
    a.observe({ kind: 'breaker', name: 'hosts', events })
    b.observe({ kind: 'breaker', name: 'hosts', events })
    for (const host of ['a', 'b', 'c', 'd']) {
      events.emit('stateChange', {
        name: host,
        from: 'closed',
        to: 'open',
        reason: 'consecutive-failures',
      })
    }
    const m = await scrape(registry)
    // Both instances counted every event into the same series.
    const open = (name: string) =>
      m.value('sturdy_breaker_transitions_total', { name, from: 'closed', to: 'open' })
    expect(open('a')).toBe(2)
    expect(open('b')).toBe(2)
    expect(open('__other__')).toBe(4)
    expect(m.series('sturdy_breaker_state').sort()).toEqual([
      'sturdy_breaker_state{name="a"}',
      'sturdy_breaker_state{name="b"}',
    ])
  })

  it('uses a private registry by default', () => {
    expect(policyMetrics().registry).not.toBe(policyMetrics().registry)
  })

  it('keeps the state gauge equal to the last transition, and counts each one (property)', async () => {
    const states = Object.keys(BREAKER_STATE_VALUES) as CircuitState[]
    await fc.assert(
      fc.asyncProperty(fc.array(fc.constantFrom(...states), { maxLength: 30 }), async (path) => {
        const registry = new Registry()
        const breaker = fakeBreaker('p')
        policyMetrics({ registry }).observe(breaker)
        const expected = new Map<string, number>()
        let last: CircuitState = 'closed'
        for (const to of path) {
          const k = `${last}->${to}`
          expected.set(k, (expected.get(k) ?? 0) + 1)
          breaker.move(to)
          last = to
        }
        const m = await scrape(registry)
        expect(m.value('sturdy_breaker_state', { name: 'p' })).toBe(BREAKER_STATE_VALUES[last])
        for (const [k, n] of expected) {
          const [from = '', to = ''] = k.split('->')
          expect(m.value('sturdy_breaker_transitions_total', { name: 'p', from, to })).toBe(n)
        }
        expect(m.series('sturdy_breaker_transitions_total')).toHaveLength(expected.size)
      }),
      { numRuns: 50 },
    )
  })
})
