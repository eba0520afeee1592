import { trace } from '@opentelemetry/api'
import type {
  BreakerEventMap,
  ObservablePolicy,
  RetryEventMap,
  TimeoutEventMap,
} from '@sturdy/core'
import { createEmitter, TimeoutError } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { traceEvents, tracing } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
afterAll(() => otel.unregister())
beforeEach(() => otel.exporter.reset())

/** Hand-made observable policies: just the core event maps, no policy package. */
function fakes() {
  const retry = createEmitter<RetryEventMap>()
  const breaker = createEmitter<BreakerEventMap>()
  const timeout = createEmitter<TimeoutEventMap>()
  const policies: ObservablePolicy[] = [
    { kind: 'retry', name: 'users', events: retry },
    { kind: 'breaker', name: 'users', events: breaker },
    { kind: 'timeout', name: 'users', events: timeout },
  ]
  return { retry, breaker, timeout, policies }
}

function inSpan(fn: () => void) {
  trace.getTracer('t').startActiveSpan('call', (span) => {
    fn()
    span.end()
  })
  const span = otel.spans().at(-1)
  return span?.events.map((e) => [e.name, e.attributes]) ?? []
}

describe('traceEvents() with hand-made emitters', () => {
  it('adds retry and breaker events to the active span', () => {
    const f = fakes()
    const stop = traceEvents(f.policies)
    const events = inSpan(() => {
      f.retry.emit('attempt', { name: 'users', attempt: 1 })
      f.retry.emit('retry', { name: 'users', attempt: 1, delayMs: 120, error: new TypeError('x') })
      f.retry.emit('budgetExhausted', { name: 'users', attempt: 2 })
      f.retry.emit('giveUp', {
        name: 'users',
        attempts: 2,
        error: { status: 503 },
        reason: 'max-attempts',
      })
      f.breaker.emit('stateChange', {
        name: 'users/eu',
        from: 'closed',
        to: 'open',
        reason: 'consecutive-failures',
      })
      f.breaker.emit('rejected', { name: 'users/eu', state: 'open', retryAfterMs: 5000 })
      f.breaker.emit('success', { name: 'users/eu', durationMs: 3, slow: false })
    })
    stop()
    expect(events).toEqual([
      [
        'sturdy.retry',
        {
          'sturdy.policy.name': 'users',
          'sturdy.retry.attempt': 1,
          'sturdy.retry.delay_ms': 120,
          'error.type': 'TypeError',
        },
      ],
      [
        'sturdy.retry.budget_exhausted',
        { 'sturdy.policy.name': 'users', 'sturdy.retry.attempt': 2 },
      ],
      [
        'sturdy.retry.give_up',
        {
          'sturdy.policy.name': 'users',
          'sturdy.retry.attempts': 2,
          'sturdy.retry.give_up_reason': 'max-attempts',
          'error.type': '503',
        },
      ],
      [
        'sturdy.breaker.state_change',
        {
          'sturdy.policy.name': 'users/eu',
          'sturdy.breaker.from': 'closed',
          'sturdy.breaker.to': 'open',
          'sturdy.breaker.reason': 'consecutive-failures',
        },
      ],
      [
        'sturdy.breaker.rejected',
        {
          'sturdy.policy.name': 'users/eu',
          'sturdy.breaker.state': 'open',
          'sturdy.breaker.retry_after_ms': 5000,
        },
      ],
    ])
  })

  it('records no timeout events: they fire from a shared timer, outside the call’s context', () => {
    const f = fakes()
    const stop = traceEvents(f.policies)
    const events = inSpan(() => {
      f.timeout.emit('timeout', { name: 'd', timeoutMs: 1000, scope: 'deadline' })
      f.timeout.emit('timeout', { name: 'users', timeoutMs: 250, scope: 'policy' })
    })
    stop()
    expect(events).toEqual([])
    expect(f.timeout.has('timeout')).toBe(false)
  })

  it('drops events with no active span, or an ended one, without throwing', () => {
    const f = fakes()
    const stop = traceEvents(f.policies)
    expect(() =>
      f.retry.emit('retry', { name: 'users', attempt: 1, delayMs: 0, error: 1 }),
    ).not.toThrow()
    const ended = trace.getTracer('t').startSpan('ended')
    ended.end()
    const late = traceEvents(f.policies, { activeSpan: () => ended })
    f.breaker.emit('stateChange', {
      name: 'users',
      from: 'open',
      to: 'half-open',
      reason: 'timeout-elapsed',
    })
    late()
    stop()
    expect(otel.spans().map((s) => s.events)).toEqual([[]])
  })

  it('the disposer unsubscribes from every policy, and is idempotent', () => {
    const f = fakes()
    const stop = traceEvents(f.policies)
    expect([f.retry.has('retry'), f.breaker.has('stateChange')]).toEqual([true, true])
    stop()
    stop()
    expect([f.retry.has('retry'), f.breaker.has('stateChange')]).toEqual([false, false])
    expect(
      f.retry.has('giveUp') || f.retry.has('budgetExhausted') || f.breaker.has('rejected'),
    ).toBe(false)
  })

  it('accepts a single policy and an explicit span lookup', () => {
    const retry = createEmitter<RetryEventMap>()
    const span = trace.getTracer('t').startSpan('explicit')
    const stop = traceEvents(
      { kind: 'retry', name: 'r', events: retry },
      { activeSpan: () => span },
    )
    retry.emit('retry', { name: 'r', attempt: 3, delayMs: 10, error: 'nope' })
    span.end()
    stop()
    expect(otel.spans()[0]?.events[0]?.attributes?.['error.type']).toBe('_OTHER')
  })

  it('lands on the request’s SERVER span when a handler runs the policy', async () => {
    const f = fakes()
    const stop = traceEvents(f.policies)
    const app = new Hono().use(sturdy(tracing()))
    app.get('/orders/:id', async (c) => {
      await Promise.resolve()
      f.retry.emit('retry', { name: 'users', attempt: 1, delayMs: 0, error: new TimeoutError() })
      return c.text('ok')
    })
    await app.request('/orders/1')
    stop()
    const [span] = otel.spans()
    expect(span?.name).toBe('GET /orders/:id')
    expect(span?.events.map((e) => [e.name, e.attributes?.['error.type']])).toEqual([
      ['sturdy.retry', 'TimeoutError'],
    ])
  })
})
