/**
 * Span events from the real `@sturdy/retry` and `@sturdy/breaker` policies, run by a
 * handler behind the `tracing()` middleware: one flaky call that a retry saves, and a
 * dependency that keeps failing until the breaker trips. Then a request deadline from the
 * real `@sturdy/timeout` middleware.
 */
import { SpanStatusCode } from '@opentelemetry/api'
import { circuitBreaker } from '@sturdy/breaker'
import { compose } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { retry } from '@sturdy/retry'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { traceEvents, tracing } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
afterAll(() => otel.unregister())
beforeEach(() => otel.exporter.reset())

describe('span events from the real policies', () => {
  it('a retry that saves a flaky call', async () => {
    const clock = manualClock()
    const policy = retry({ name: 'inventory', maxAttempts: 3, delay: () => 0, clock })
    const stop = traceEvents(policy)
    let calls = 0
    const app = new Hono().use(sturdy(tracing()))
    app.get('/orders/:id', async (c) => {
      const stock = await policy.execute(async () => {
        calls++
        if (calls === 1) throw new TypeError('fetch failed')
        return 7
      })
      return c.json({ stock })
    })
    expect(await (await app.request('/orders/1')).json()).toEqual({ stock: 7 })
    stop()
    const [span] = otel.spans()
    expect(span?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'sturdy.retry',
        {
          'sturdy.policy.name': 'inventory',
          'sturdy.retry.attempt': 1,
          'sturdy.retry.delay_ms': 0,
          'error.type': 'TypeError',
        },
      ],
    ])
    expect(clock.pending()).toBe(0)
  })

  it('a breaker trip, the rejection after it, and the retry giving up', async () => {
    const clock = manualClock()
    const breaker = circuitBreaker({
      name: 'payments',
      readyToTrip: (counts) => counts.consecutiveFailures >= 2,
      clock,
    })
    const policy = retry({ name: 'payments', maxAttempts: 3, delay: () => 0, clock })
    const stop = traceEvents([policy, breaker])
    const app = new Hono().use(sturdy(tracing()))
    app.post('/pay', async (c) => {
      await compose(policy, breaker).execute(async () => {
        throw new Error('payments down')
      })
      return c.text('paid')
    })
    app.onError((_e, c) => c.text('failed', 503))
    expect((await app.request('/pay', { method: 'POST' })).status).toBe(503)
    stop()
    const [span] = otel.spans()
    expect(span?.name).toBe('POST /pay')
    expect(span?.events.map((e) => e.name)).toContain('exception')
    const ours = span?.events.filter((e) => e.name.startsWith('sturdy.'))
    const retryAttrs = {
      'sturdy.policy.name': 'payments',
      'sturdy.retry.delay_ms': 0,
      'error.type': 'Error',
    }
    // Attribute values owned by the policy packages (reason strings, default open time)
    // are matched loosely, so this test pins the translation, not their defaults.
    expect(ours?.map((e) => [e.name, e.attributes])).toEqual([
      ['sturdy.retry', { ...retryAttrs, 'sturdy.retry.attempt': 1 }],
      [
        'sturdy.breaker.state_change',
        {
          'sturdy.policy.name': 'payments',
          'sturdy.breaker.from': 'closed',
          'sturdy.breaker.to': 'open',
          'sturdy.breaker.reason': expect.any(String),
        },
      ],
      ['sturdy.retry', { ...retryAttrs, 'sturdy.retry.attempt': 2 }],
      [
        'sturdy.breaker.rejected',
        {
          'sturdy.policy.name': 'payments',
          'sturdy.breaker.state': 'open',
          'sturdy.breaker.retry_after_ms': expect.any(Number),
        },
      ],
      [
        'sturdy.retry.give_up',
        {
          'sturdy.policy.name': 'payments',
          'sturdy.retry.attempts': 3,
          'sturdy.retry.give_up_reason': 'max-attempts',
          'error.type': 'BrokenCircuitError',
        },
      ],
    ])
    expect(breaker.state).toBe('open')
  })
})

describe('a deadline from the real @sturdy/timeout', () => {
  it('becomes sturdy.deadline.exceeded on the request span, read from the exchange', async () => {
    const clock = manualClock()
    const app = new Hono().use(sturdy(tracing({ clock }), deadline({ budgetMs: 100, clock })))
    app.get('/fast/:id', (c) => c.text('in time'))
    app.get('/slow/:id', async (c) => {
      // Cooperative work: it stops when the request signal aborts.
      await new Promise((resolve) =>
        c.var.signal.addEventListener('abort', resolve, { once: true }),
      )
      return c.text('too late')
    })
    expect((await app.request('/fast/1')).status).toBe(200)
    const pending = app.request('/slow/1')
    await clock.advanceAsync(1000)
    expect((await pending).status).toBe(504)
    const [fast, span] = otel.spans()
    expect(fast?.name).toBe('GET /fast/:id')
    expect(fast?.events).toEqual([])
    expect(span?.name).toBe('GET /slow/:id')
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    expect(span?.attributes['error.type']).toBe('504')
    expect(span?.events.map((e) => e.name)).toEqual(['sturdy.deadline.exceeded'])
    expect(clock.pending()).toBe(0)
  })

  it('a 408 (the body was still arriving at the deadline) is the client’s: UNSET, no error.type, the deadline event', async () => {
    const clock = manualClock()
    const app = new Hono().use(sturdy(tracing({ clock }), deadline({ budgetMs: 100, clock })))
    app.post('/upload/:id', async (c) => {
      await new Promise((resolve) =>
        c.var.signal.addEventListener('abort', resolve, { once: true }),
      )
      return c.text('too late')
    })
    // @hono/node-server's binding: the request body has not all arrived.
    const pending = app.request('/upload/1', { method: 'POST' }, { incoming: { complete: false } })
    await clock.advanceAsync(1000)
    expect((await pending).status).toBe(408)
    const [span] = otel.spans()
    expect(span?.name).toBe('POST /upload/:id')
    expect(span?.attributes['http.response.status_code']).toBe(408)
    expect(span?.status.code).toBe(SpanStatusCode.UNSET)
    expect(span?.attributes['error.type']).toBeUndefined()
    expect(span?.events.map((e) => e.name)).toEqual(['sturdy.deadline.exceeded'])
    expect(clock.pending()).toBe(0)
  })
})
