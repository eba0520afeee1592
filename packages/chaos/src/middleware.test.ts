import type { ChaosMark, Exchange, Middleware } from '@sturdy/core'
import { VALUES } from '@sturdy/core'
import { manualClock, seededRandom } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { ChaosMiddlewareOptions } from './index.ts'
import { CHAOS_HEADER, chaosMiddleware } from './index.ts'

/** An app with the chaos middleware and a few routes; records what handlers ran and the marks. */
function app(chaos: Middleware<object>, ...more: Middleware<object>[]) {
  const ran: string[] = []
  const marks: Array<readonly ChaosMark[] | undefined> = []
  const spy: Middleware = async (ex: Exchange, next) => {
    await next()
    marks.push(ex.get<readonly ChaosMark[]>(VALUES.chaos))
  }
  const hono = new Hono().use(sturdy(spy, ...more, chaos))
  hono.get('/users/:id', (c) => {
    ran.push(`GET /users/${c.req.param('id')}`)
    return c.json({ id: c.req.param('id') })
  })
  hono.post('/users/:id', (c) => {
    ran.push('POST /users/:id')
    return c.json({ ok: true })
  })
  hono.get('/health', (c) => {
    ran.push('GET /health')
    return c.text('ok')
  })
  return { hono, ran, marks }
}

const fault = (extra: Partial<ChaosMiddlewareOptions> = {}) =>
  chaosMiddleware({ kind: 'fault', injectionRate: 1, ...extra } as ChaosMiddlewareOptions)

describe('chaosMiddleware: scope', () => {
  it('injects only into the routes and methods in scope', async () => {
    const { hono, ran } = app(fault({ name: 'users-fault', routes: ['GET /users/:id'] }))
    const hit = await hono.request('/users/7')
    expect(hit.status).toBe(503)
    expect(hit.headers.get('content-type')).toBe('application/problem+json')
    expect(await hit.json()).toMatchObject({
      status: 503,
      code: 'CHAOS_FAULT',
      detail: 'Fault injected by chaos "users-fault"',
    })
    expect(hit.headers.get(CHAOS_HEADER)).toBe('fault; name=users-fault')
    expect((await hono.request('/users/7', { method: 'POST' })).status).toBe(200)
    const other = await hono.request('/health')
    expect(other.status).toBe(200)
    expect(other.headers.get(CHAOS_HEADER)).toBeNull()
    expect(ran).toEqual(['POST /users/:id', 'GET /health'])
  })

  it('without routes, every request is in scope', async () => {
    const { hono, ran } = app(fault())
    expect((await hono.request('/health')).status).toBe(503)
    expect((await hono.request('/nowhere')).status).toBe(503)
    expect(ran).toEqual([])
  })

  it('marks the request on the exchange, for the access log and the span', async () => {
    const { hono, marks } = app(
      fault({ name: 'f1' }),
      chaosMiddleware({ kind: 'behaviour', name: 'b1', injectionRate: 1, behaviour: () => {} }),
    )
    await hono.request('/health')
    expect(marks).toEqual([
      [
        { name: 'b1', kind: 'behaviour' },
        { name: 'f1', kind: 'fault' },
      ],
    ])
  })

  it('the header can be renamed or left out', async () => {
    const renamed = app(fault({ header: 'x-drill' }))
    expect((await renamed.hono.request('/health')).headers.get('x-drill')).toBe(
      'fault; name=chaos-fault',
    )
    const none = app(fault({ header: false }))
    expect((await none.hono.request('/health')).headers.get(CHAOS_HEADER)).toBeNull()
  })
})

describe('chaosMiddleware: kinds', () => {
  it('fault: a custom error renders as its problem; an unknown error as a bare 500', async () => {
    const { ValidationError } = await import('@sturdy/core')
    const custom = app(fault({ fault: () => new ValidationError('bad drill') }))
    expect((await custom.hono.request('/health')).status).toBe(400)
    const unknown = app(fault({ fault: new Error('secret internals') }))
    const res = await unknown.hono.request('/health')
    expect(res.status).toBe(500)
    expect(await res.text()).not.toContain('secret')
  })

  it('outcome: 503 + Retry-After problem by default, or the given response', async () => {
    const byDefault = app(chaosMiddleware({ kind: 'outcome', injectionRate: 1, name: 'o' }))
    const res = await byDefault.hono.request('/users/1')
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toMatchObject({ code: 'CHAOS_OUTCOME', status: 503 })
    expect(byDefault.ran).toEqual([])

    const given = app(
      chaosMiddleware({
        kind: 'outcome',
        injectionRate: 1,
        outcome: (ex) => ({
          status: 429,
          headers: { 'retry-after': '7' },
          body: `slow down ${ex.path}`,
        }),
      }),
    )
    const limited = await given.hono.request('/users/1')
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('7')
    expect(await limited.text()).toBe('slow down /users/1')
    expect(() => chaosMiddleware({ kind: 'outcome', outcome: { status: 99 } })).toThrow(RangeError)
  })

  it('latency: the handler runs after the delay, on the injected clock', async () => {
    const clock = manualClock()
    const { hono, ran } = app(
      chaosMiddleware({ kind: 'latency', injectionRate: 1, latencyMs: 250, clock }),
    )
    const pending = hono.request('/users/3')
    await clock.advanceAsync(249)
    expect(ran).toEqual([])
    await clock.advanceAsync(1)
    const res = await pending
    expect(res.status).toBe(200)
    expect(res.headers.get(CHAOS_HEADER)).toBe('latency; name=chaos-latency')
    expect(ran).toEqual(['GET /users/3'])
    expect(clock.pending()).toBe(0)
  })

  it('latency past the deadline: 504 from the deadline, the handler never runs, the wait is released', async () => {
    const clock = manualClock()
    const { hono, ran } = app(
      chaosMiddleware({ kind: 'latency', injectionRate: 1, latencyMs: 10_000, clock }),
      deadline({ budgetMs: 30 }),
    )
    const res = await hono.request('/users/3')
    expect(res.status).toBe(504)
    await new Promise((r) => setTimeout(r, 10))
    expect(ran).toEqual([])
    expect(clock.pending()).toBe(0)
  })

  it('hang: no answer until the request is aborted — here by a deadline, 504', async () => {
    const { hono, ran } = app(
      chaosMiddleware({ kind: 'hang', injectionRate: 1 }),
      deadline({ budgetMs: 30 }),
    )
    const started = performance.now()
    const res = await hono.request('/users/3')
    expect(res.status).toBe(504)
    expect(performance.now() - started).toBeGreaterThanOrEqual(25)
    expect(ran).toEqual([])
  })

  it('behaviour: the side effect runs before the handler', async () => {
    const order: string[] = []
    const { hono } = app(
      chaosMiddleware({
        kind: 'behaviour',
        injectionRate: 1,
        behaviour: async (ex) => {
          order.push(`behaviour ${ex.method}`)
        },
      }),
    )
    const hono2 = hono
    hono2.get('/order', (c) => {
      order.push('handler')
      return c.text('ok')
    })
    expect((await hono.request('/order')).status).toBe(200)
    expect(order).toEqual(['behaviour GET', 'handler'])
  })
})

describe('chaosMiddleware: switches', () => {
  it('disabled or not drawn: the request is untouched and unmarked', async () => {
    const chaos = fault({ enabled: false })
    const { hono, marks } = app(chaos)
    const res = await hono.request('/health')
    expect(res.status).toBe(200)
    expect(res.headers.get(CHAOS_HEADER)).toBeNull()
    expect(marks).toEqual([undefined])
    chaos.update({ enabled: true })
    expect((await hono.request('/health')).status).toBe(503)
  })

  it('injects at the seeded rate', async () => {
    const chaos = fault({ injectionRate: 0.3, random: seededRandom(42) })
    let injected = 0
    chaos.events.on('injected', (e) => {
      expect(e).toEqual({ name: 'chaos-fault', kind: 'fault', scope: 'middleware', latencyMs: 0 })
      injected++
    })
    const { hono } = app(chaos)
    let failed = 0
    for (let i = 0; i < 200; i++) if ((await hono.request('/health')).status === 503) failed++
    expect(failed).toBe(injected)
    const replay = seededRandom(42)
    let expected = 0
    for (let i = 0; i < 200; i++) if (replay() < 0.3) expected++
    expect(injected).toBe(expected)
  })

  it('is addressed by its chaos name and shows its routes', () => {
    const chaos = chaosMiddleware({ kind: 'hang', name: 'stuck', routes: ['GET /users/:id'] })
    expect(chaos.name).toBe('stuck')
    expect(chaos.kind).toBe('chaos')
    expect(chaos.settings()).toMatchObject({
      kind: 'hang',
      scope: 'middleware',
      routes: ['GET /users/:id'],
    })
  })

  it('rejects bad options at construction', () => {
    expect(() => chaosMiddleware({ kind: 'fault', routes: ['users'] })).toThrow(RangeError)
    expect(() => chaosMiddleware({ kind: 'nope' } as never)).toThrow(TypeError)
    expect(() => chaosMiddleware({ kind: 'behaviour' } as never)).toThrow(TypeError)
    expect(() => chaosMiddleware({ kind: 'latency', latencyMs: -1 })).toThrow(RangeError)
  })
})
