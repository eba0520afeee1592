import type { RateLimitEventMap } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { RateLimitOptions } from './middleware.ts'
import { QUOTA_EXCEEDED_TYPE, rateLimit } from './middleware.ts'
import { slidingWindow } from './sliding-window.ts'
import { tokenBucket } from './token-bucket.ts'

function app(options: RateLimitOptions) {
  const guard = rateLimit(options)
  let calls = 0
  const hono = new Hono().use(sturdy(guard))
  hono.get('/items/:id', (c) => {
    calls++
    return c.json({ id: c.req.param('id') })
  })
  hono.get('/fail', (c) => {
    calls++
    return c.text('down', 503)
  })
  return { hono, guard, calls: () => calls }
}

const byClient = (c: string) => ({ headers: { 'x-client': c } })

describe('rateLimit() middleware', () => {
  it('sends draft-10 headers while within quota, then 429 problem+json with Retry-After, without running the handler', async () => {
    const clock = manualClock(0)
    const { hono, calls } = app({
      limiter: { name: 'api', algorithm: slidingWindow({ limit: 2, windowMs: 60_000 }), clock },
    })
    const first = await hono.request('/items/1')
    expect(first.status).toBe(200)
    expect(first.headers.get('ratelimit-policy')).toBe('"api";q=2;w=60')
    expect(first.headers.get('ratelimit')).toBe('"api";r=1;t=120')
    // the two now weigh until half of the next window has passed
    expect((await hono.request('/items/2')).headers.get('ratelimit')).toBe('"api";r=0;t=90')
    const refused = await hono.request('/items/3')
    expect(refused.status).toBe(429)
    expect(refused.headers.get('content-type')).toBe('application/problem+json')
    expect(refused.headers.get('retry-after')).toBe('90')
    expect(refused.headers.get('ratelimit')).toBe('"api";r=0;t=90')
    expect(refused.headers.get('ratelimit-policy')).toBe('"api";q=2;w=60')
    expect(await refused.json()).toEqual({
      type: QUOTA_EXCEEDED_TYPE,
      title: 'Too Many Requests',
      status: 429,
      code: 'RATE_LIMITED',
      detail: 'Rate limit "api" exceeded',
      'violated-policies': ['api'],
      retryAfterMs: 90_000,
    })
    expect(calls()).toBe(2)
  })

  it('keys by the key function; undefined lets a request through unlimited and unlabelled', async () => {
    const { hono, calls } = app({
      limiter: { algorithm: tokenBucket({ limit: 1, windowMs: 60_000 }), clock: manualClock() },
      key: (ex) => ex.header('x-client'),
    })
    expect((await hono.request('/items/1', byClient('a'))).status).toBe(200)
    expect((await hono.request('/items/1', byClient('a'))).status).toBe(429)
    expect((await hono.request('/items/1', byClient('b'))).status).toBe(200)
    for (let i = 0; i < 3; i++) {
      const res = await hono.request('/items/1')
      expect(res.status).toBe(200)
      expect(res.headers.get('ratelimit')).toBeNull()
    }
    expect(calls()).toBe(5)
  })

  it('routes scopes the limit to matching requests (core routeMatcher patterns)', async () => {
    const { hono } = app({
      limiter: { algorithm: slidingWindow({ limit: 1 }), clock: manualClock() },
      routes: ['GET /items/:id{[0-9]+}'],
    })
    expect((await hono.request('/items/1')).status).toBe(200)
    expect((await hono.request('/items/2')).status).toBe(429)
    expect((await hono.request('/items/abc')).status).toBe(200)
    const fail = await hono.request('/fail')
    expect(fail.status).toBe(503)
    expect(fail.headers.get('ratelimit')).toBeNull()
    expect(() => rateLimit({ routes: ['not a pattern'] })).toThrow(RangeError)
  })

  it('without a client address (app.request), requests share one quota rather than escape it', async () => {
    const { hono } = app({
      limiter: { algorithm: slidingWindow({ limit: 1 }), clock: manualClock() },
    })
    expect((await hono.request('/items/1')).status).toBe(200)
    expect((await hono.request('/items/1')).status).toBe(429)
  })

  it('charges the cost function, and a cost over the limit gets 429 with no Retry-After', async () => {
    const { hono } = app({
      limiter: {
        name: 'bytes',
        algorithm: tokenBucket({ limit: 10, windowMs: 10_000 }),
        clock: manualClock(),
      },
      cost: (ex) => Number(ex.header('x-cost') ?? '1'),
    })
    const seven = await hono.request('/items/1', { headers: { 'x-cost': '7' } })
    expect(seven.headers.get('ratelimit')).toBe('"bytes";r=3;t=1')
    const big = await hono.request('/items/1', { headers: { 'x-cost': '11' } })
    expect(big.status).toBe(429)
    expect(big.headers.get('retry-after')).toBeNull()
    expect(await big.json()).not.toHaveProperty('retryAfterMs')
  })

  it('Retry-After never points before the reset parameter', async () => {
    const clock = manualClock(0)
    const { hono } = app({
      limiter: { algorithm: tokenBucket({ limit: 3, windowMs: 3000 }), clock },
      cost: () => 2,
    })
    for (let i = 0; i < 20; i++) {
      const res = await hono.request('/items/1')
      const t = Number(/t=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1])
      if (res.status === 429)
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(t)
      clock.advance(450)
    }
  })

  it('writes the older drafts when asked, or no headers at all', async () => {
    const limiter = { algorithm: slidingWindow({ limit: 5, windowMs: 1500 }), clock: manualClock() }
    const seven = await app({ limiter, headers: 'draft-7' }).hono.request('/items/1')
    expect(seven.headers.get('ratelimit-policy')).toBe('5;w=2')
    expect(seven.headers.get('ratelimit')).toBe('limit=5, remaining=4, reset=3')
    const six = await app({ limiter, headers: 'draft-6' }).hono.request('/items/1')
    expect(six.headers.get('ratelimit-limit')).toBe('5')
    expect(six.headers.get('ratelimit-remaining')).toBe('4')
    expect(six.headers.get('ratelimit-reset')).toBe('3')
    const none = await app({ limiter, headers: false }).hono.request('/items/1')
    expect(none.headers.get('ratelimit')).toBeNull()
    expect(none.headers.get('ratelimit-policy')).toBeNull()
  })

  it('quotes the policy name as a structured-field string', async () => {
    const limiter = {
      name: 'per "user" \\ tier',
      algorithm: slidingWindow({ limit: 5 }),
      clock: manualClock(),
    }
    const res = await app({ limiter }).hono.request('/items/1')
    expect(res.headers.get('ratelimit-policy')).toBe('"per \\"user\\" \\\\ tier";q=5;w=60')
  })

  it('refundWhen gives failed requests their units back', async () => {
    const { hono } = app({
      limiter: { algorithm: slidingWindow({ limit: 2 }), clock: manualClock() },
      refundWhen: (ex) => ex.status >= 500,
    })
    for (let i = 0; i < 5; i++) expect((await hono.request('/fail')).status).toBe(503)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect((await hono.request('/items/1')).status).toBe(200)
    expect((await hono.request('/items/1')).status).toBe(200)
    expect((await hono.request('/items/1')).status).toBe(429)
  })

  it('is observable: rejected events carry the limiter name, never the key', async () => {
    const { hono, guard } = app({
      limiter: { name: 'api', algorithm: slidingWindow({ limit: 1 }), clock: manualClock() },
      key: () => 'secret-api-key',
    })
    expect(guard.kind).toBe('rate-limit')
    expect(guard.name).toBe('rateLimit')
    const rejected: RateLimitEventMap['rejected'][] = []
    guard.events.on('rejected', (e) => rejected.push(e))
    await hono.request('/items/1')
    await hono.request('/items/1')
    expect(rejected).toEqual([{ name: 'api', cost: 1, retryAfterMs: 120_000 }])
    expect(JSON.stringify(rejected)).not.toContain('secret')
  })
})
