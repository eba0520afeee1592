import { trace } from '@opentelemetry/api'
import { chaosFault, chaosMiddleware } from '@sturdy/chaos'
import { sturdy } from '@sturdy/hono'
import { hedge } from '@sturdy/retry'
import { Hono } from 'hono'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { traceEvents, tracing } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
afterAll(() => otel.unregister())
beforeEach(() => otel.exporter.reset())

describe('chaos and hedging in traces (real SDK, real @sturdy/chaos and hedge())', () => {
  it('a chaos middleware marks the server span: an attribute always, an event with a context manager', async () => {
    const slow = chaosMiddleware({
      name: 'slow-users',
      kind: 'latency',
      latencyMs: 1,
      injectionRate: 1,
    })
    const down = chaosMiddleware({
      name: 'users-down',
      kind: 'fault',
      injectionRate: 1,
      routes: ['GET /users/:id'],
    })
    const stop = traceEvents([slow, down])
    const app = new Hono().use(sturdy(tracing(), slow, down))
    app.get('/users/:id', (c) => c.text('never'))
    app.get('/health', (c) => c.text('ok'))

    expect((await app.request('/users/1')).status).toBe(503)
    expect((await app.request('/health')).status).toBe(200)
    stop()
    const [users, health] = otel.spans()
    expect(users?.attributes['sturdy.chaos.injected']).toEqual([
      'latency:slow-users',
      'fault:users-down',
    ])
    expect(users?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'sturdy.chaos.injected',
        {
          'sturdy.policy.name': 'slow-users',
          'sturdy.chaos.kind': 'latency',
          'sturdy.chaos.scope': 'middleware',
          'sturdy.chaos.latency_ms': 1,
        },
      ],
      [
        'sturdy.chaos.injected',
        {
          'sturdy.policy.name': 'users-down',
          'sturdy.chaos.kind': 'fault',
          'sturdy.chaos.scope': 'middleware',
          'sturdy.chaos.latency_ms': 0,
        },
      ],
    ])
    expect(health?.attributes['sturdy.chaos.injected']).toEqual(['latency:slow-users'])
  })

  it('a request without chaos carries no chaos attribute', async () => {
    const app = new Hono().use(sturdy(tracing()))
    app.get('/', (c) => c.text('ok'))
    await app.request('/')
    expect(otel.spans()[0]?.attributes['sturdy.chaos.injected']).toBeUndefined()
  })

  it('chaos policies and hedges add events to the span of the call', async () => {
    const fault = chaosFault({ name: 'db-down', injectionRate: 1 })
    const policy = hedge({ name: 'users-api', delayMs: 5 })
    const stop = traceEvents([fault, policy])
    await trace.getTracer('t').startActiveSpan('call', async (span) => {
      await fault.execute(async () => 1).catch(() => undefined)
      await policy.execute(
        ({ attempt, signal }) =>
          new Promise<number>((resolve, reject) => {
            // The first attempt outlasts any pause of a busy host: only the hedge can win.
            const t = setTimeout(() => resolve(attempt), attempt === 1 ? 30_000 : 1)
            signal.addEventListener('abort', () => {
              clearTimeout(t)
              reject(signal.reason)
            })
          }),
      )
      span.end()
    })
    stop()
    const events = otel
      .spans()
      .at(-1)
      ?.events.map((e) => [e.name, e.attributes])
    expect(events).toEqual([
      [
        'sturdy.chaos.injected',
        {
          'sturdy.policy.name': 'db-down',
          'sturdy.chaos.kind': 'fault',
          'sturdy.chaos.scope': 'policy',
          'sturdy.chaos.latency_ms': 0,
        },
      ],
      [
        'sturdy.hedge',
        {
          'sturdy.policy.name': 'users-api',
          'sturdy.hedge.attempt': 2,
          'sturdy.hedge.trigger': 'delay',
          'sturdy.hedge.delay_ms': 5,
        },
      ],
      [
        'sturdy.hedge.won',
        {
          'sturdy.policy.name': 'users-api',
          'sturdy.hedge.attempt': 2,
          'sturdy.hedge.attempts': 2,
        },
      ],
    ])
  })
})
