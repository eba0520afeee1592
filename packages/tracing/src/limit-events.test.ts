/**
 * Span events from the real `@sturdy/limit`: a request shed by the server middleware, and
 * an outgoing call a throttle refuses locally, each on the span active when it happened.
 */
import { sturdy } from '@sturdy/hono'
import { adaptiveThrottle, concurrencyLimit, isThrottledError } from '@sturdy/limit'
import { Hono } from 'hono'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { traceEvents, tracing } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
afterAll(() => otel.unregister())
beforeEach(() => otel.exporter.reset())

describe('span events from @sturdy/limit', () => {
  it('a request the limit sheds gets sturdy.limit.shed on its span', async () => {
    const limit = concurrencyLimit({ limit: 1 })
    const stop = traceEvents(limit)
    const app = new Hono().use(sturdy(tracing(), limit))
    let open: () => void = () => {}
    app.get('/work', async (c) => {
      await new Promise<void>((r) => (open = r))
      return c.text('ok')
    })
    const first = app.request('/work')
    await new Promise((r) => setImmediate(r))
    expect((await app.request('/work')).status).toBe(503)
    open()
    await first
    stop()
    const shedSpans = otel.spans().filter((s) => s.events.length > 0)
    expect(shedSpans).toHaveLength(1)
    expect(shedSpans[0]?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'sturdy.limit.shed',
        {
          'sturdy.policy.name': 'http-server',
          'sturdy.limit.reason': 'limit',
          'sturdy.limit.priority': 'normal',
        },
      ],
    ])
  })

  it('a call a throttle refuses locally marks the span of the request that made it', async () => {
    let draw = 0.99999
    const throttle = adaptiveThrottle({ name: 'orders', random: () => draw })
    const stop = traceEvents([throttle])
    const app = new Hono().use(sturdy(tracing()))
    app.get('/x', async (c) => {
      const outcome = await throttle
        .execute(async () => ({ status: 503 }))
        .then(() => 'sent')
        .catch((e: unknown) => (isThrottledError(e) ? 'throttled' : 'error'))
      return c.text(outcome)
    })
    expect(await (await app.request('/x')).text()).toBe('sent')
    draw = 0
    expect(await (await app.request('/x')).text()).toBe('throttled')
    stop()
    const events = otel.spans().flatMap((s) => s.events.map((e) => e.name))
    expect(events).toEqual(['sturdy.limit.shed'])
  })
})
