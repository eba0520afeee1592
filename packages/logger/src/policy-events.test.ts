import type {
  BreakerEventMap,
  ObservablePolicy,
  RetryEventMap,
  TimeoutEventMap,
} from '@sturdy/core'
import { createEmitter, TimeoutError } from '@sturdy/core'
import { describe, expect, it } from 'vitest'
import { logPolicyEvents } from './index.ts'
import { capture } from './testing.ts'

function policies() {
  const breakerEvents = createEmitter<BreakerEventMap>()
  const retryEvents = createEmitter<RetryEventMap>()
  const timeoutEvents = createEmitter<TimeoutEventMap>()
  const breaker: ObservablePolicy = { kind: 'breaker', name: 'payments', events: breakerEvents }
  const retry: ObservablePolicy = { kind: 'retry', name: 'payments-retry', events: retryEvents }
  const timeout: ObservablePolicy = {
    kind: 'timeout',
    name: 'payments-timeout',
    events: timeoutEvents,
  }
  return { breaker, retry, timeout, breakerEvents, retryEvents, timeoutEvents }
}

describe('logPolicyEvents', () => {
  it('logs breaker transitions at warn, retries at debug and give-ups at info', () => {
    const p = policies()
    const { logger, lines } = capture({ level: 'debug' })
    logPolicyEvents([p.breaker, p.retry, p.timeout], logger)

    p.breakerEvents.emit('stateChange', {
      name: 'payments',
      from: 'closed',
      to: 'open',
      reason: 'consecutive-failures',
    })
    p.breakerEvents.emit('rejected', { name: 'payments', state: 'open', retryAfterMs: 5000 })
    p.breakerEvents.emit('success', { name: 'payments', durationMs: 3, slow: false })
    p.retryEvents.emit('attempt', { name: 'payments-retry', attempt: 1 })
    p.retryEvents.emit('retry', {
      name: 'payments-retry',
      attempt: 1,
      delayMs: 120,
      error: new Error('ECONNRESET'),
    })
    p.retryEvents.emit('giveUp', {
      name: 'payments-retry',
      attempts: 3,
      error: new TimeoutError(),
      reason: 'max-attempts',
    })
    p.retryEvents.emit('budgetExhausted', { name: 'payments-retry', attempt: 2 })
    p.timeoutEvents.emit('timeout', { name: 'payments-timeout', timeoutMs: 250, scope: 'policy' })

    const got = lines()
    expect(got.map((l) => [l.level, l.msg])).toEqual([
      [40, 'circuit breaker state changed'],
      [20, 'circuit breaker rejected a call'],
      [20, 'retrying after failure'],
      [30, 'gave up retrying'],
      [30, 'retry budget exhausted'],
      [20, 'timed out'],
    ])
    expect(got[0]).toMatchObject({
      policy: 'payments',
      kind: 'breaker',
      from: 'closed',
      to: 'open',
      reason: 'consecutive-failures',
    })
    expect(got[1]).toMatchObject({ state: 'open', retry_after_ms: 5000 })
    expect(got[2]).toMatchObject({
      policy: 'payments-retry',
      kind: 'retry',
      attempt: 1,
      delay_ms: 120,
      err: { type: 'Error', message: 'ECONNRESET' },
    })
    expect(got[2]?.err).not.toHaveProperty('stack')
    expect(got[3]).toMatchObject({
      attempts: 3,
      reason: 'max-attempts',
      err: { type: 'TimeoutError', code: 'TIMEOUT' },
    })
    expect(got[3]?.err).toHaveProperty('stack')
    expect(got[5]).toMatchObject({ kind: 'timeout', timeout_ms: 250, scope: 'policy' })
  })

  it('uses the event name, so keyed breakers log their key', () => {
    const p = policies()
    const { logger, lines } = capture()
    logPolicyEvents(p.breaker, logger)
    p.breakerEvents.emit('stateChange', {
      name: 'payments:eu-west',
      from: 'open',
      to: 'half-open',
      reason: 'timeout-elapsed',
    })
    expect(lines()[0]).toMatchObject({ policy: 'payments:eu-west', to: 'half-open' })
  })

  it('honours the logger level and per-event levels; silent does not subscribe', () => {
    const p = policies()
    const { logger, lines } = capture({ level: 'info' })
    logPolicyEvents([p.breaker, p.retry], logger, {
      levels: { stateChange: 'error', rejected: 'silent', giveUp: 'warn' },
    })
    expect(p.breakerEvents.has('rejected')).toBe(false)
    expect(p.breakerEvents.has('stateChange')).toBe(true)
    p.breakerEvents.emit('stateChange', {
      name: 'a',
      from: 'half-open',
      to: 'open',
      reason: 'probe-failed',
    })
    p.retryEvents.emit('retry', { name: 'b', attempt: 1, delayMs: 1, error: 'x' })
    p.retryEvents.emit('giveUp', { name: 'b', attempts: 2, error: 'x', reason: 'not-retryable' })
    expect(lines().map((l) => [l.level, l.msg])).toEqual([
      [50, 'circuit breaker state changed'],
      [40, 'gave up retrying'],
    ])
  })

  it('the disposer unsubscribes from every policy, and twice is harmless', () => {
    const p = policies()
    const { logger, raw } = capture({ level: 'debug' })
    const stop = logPolicyEvents([p.breaker, p.retry, p.timeout], logger)
    stop()
    stop()
    for (const e of ['stateChange', 'rejected'] as const) expect(p.breakerEvents.has(e)).toBe(false)
    for (const e of ['retry', 'giveUp', 'budgetExhausted'] as const) {
      expect(p.retryEvents.has(e)).toBe(false)
    }
    expect(p.timeoutEvents.has('timeout')).toBe(false)
    p.breakerEvents.emit('stateChange', {
      name: 'a',
      from: 'closed',
      to: 'open',
      reason: 'consecutive-failures',
    })
    expect(raw).toEqual([])
  })
})
