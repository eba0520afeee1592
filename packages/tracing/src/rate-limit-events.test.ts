/**
 * Span events from the real `@sturdy/rate-limit` middleware behind `tracing()`: a request
 * refused by its quota, and one decided locally because the shared store is down.
 */
import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import type { RedisClient } from '@sturdy/rate-limit'
import { rateLimit, redisStore, slidingWindow } from '@sturdy/rate-limit'
import { Hono } from 'hono'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { traceEvents, tracing } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
afterAll(() => otel.unregister())
beforeEach(() => otel.exporter.reset())

const deadRedis: RedisClient = {
  evalsha: () => Promise.reject(new TypeError('connection is closed')),
  scriptLoad: () => Promise.reject(new TypeError('connection is closed')),
}

describe('span events from the real rate limiter', () => {
  it('a refused request, and decisions the fallback made, land on the request span', async () => {
    const clock = manualClock()
    const guard = rateLimit({
      limiter: {
        name: 'api',
        algorithm: slidingWindow({ limit: 1 }),
        store: redisStore({ client: deadRedis, clock }),
        clock,
      },
      key: () => 'client',
    })
    const stop = traceEvents(guard)
    const app = new Hono().use(sturdy(tracing(), guard))
    app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }))
    expect((await app.request('/items/1')).status).toBe(200)
    expect((await app.request('/items/2')).status).toBe(429)
    stop()
    const [first, second] = otel.spans()
    const events = (span: typeof first) =>
      span?.events.filter((e) => e.name.startsWith('sturdy.')).map((e) => [e.name, e.attributes])
    expect(events(first)).toEqual([
      [
        'sturdy.rate_limit.fallback',
        {
          'sturdy.policy.name': 'api',
          'sturdy.rate_limit.fallback_reason': 'error',
          'sturdy.rate_limit.fallback_mode': 'local',
          'error.type': 'TypeError',
        },
      ],
    ])
    expect(events(second)).toEqual([
      [
        'sturdy.rate_limit.fallback',
        {
          'sturdy.policy.name': 'api',
          'sturdy.rate_limit.fallback_reason': 'unavailable',
          'sturdy.rate_limit.fallback_mode': 'local',
        },
      ],
      [
        'sturdy.rate_limit.rejected',
        {
          'sturdy.policy.name': 'api',
          'sturdy.rate_limit.cost': 1,
          'sturdy.rate_limit.retry_after_ms': 120_000,
        },
      ],
    ])
  })
})
