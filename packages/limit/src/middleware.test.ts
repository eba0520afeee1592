import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Exchange, LimitEventMap } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { ConcurrencyLimitOptions } from './middleware.ts'
import { concurrencyLimit } from './middleware.ts'

/** A Hono app whose `/work/:id` handlers wait until released, so requests stay in flight. */
function setup(options: ConcurrencyLimitOptions = {}) {
  const clock = manualClock(1000)
  const mw = concurrencyLimit({ limit: 2, clock, ...options })
  const app = new Hono()
  app.use(sturdy(mw))
  const gates: Array<() => void> = []
  let ran = 0
  const held = async () => {
    ran++
    await new Promise<void>((r) => gates.push(r))
  }
  app.get('/work/:id', async (c) => {
    await held()
    return c.json({ id: c.req.param('id') })
  })
  app.get('/healthz', async (c) => {
    await held()
    return c.text('ok')
  })
  app.post('/checkout', async (c) => {
    await held()
    return c.text('paid')
  })
  const openAll = () => {
    for (const open of gates.splice(0)) open()
  }
  return { app, clock, mw, openAll, ran: () => ran }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('concurrencyLimit on Hono', () => {
  it('sheds past the limit with 503 problem+json and Retry-After, without running the handler', async () => {
    const { app, mw, openAll, ran } = setup()
    const shed: LimitEventMap['shed'][] = []
    mw.events.on('shed', (e) => shed.push(e))
    const a = app.request('/work/1')
    const b = app.request('/work/2')
    await tick()
    expect(mw.stats()).toEqual({ limit: 2, inflight: 2, queued: 0 })
    const res = await app.request('/work/3')
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toEqual({
      title: 'Service Unavailable',
      status: 503,
      code: 'OVERLOADED',
      detail: 'The server is overloaded; retry later.',
      reason: 'limit',
      retryAfterMs: 1000,
    })
    expect(ran()).toBe(2)
    expect(shed).toEqual([{ name: 'http-server', reason: 'limit', priority: 'normal' }])
    openAll()
    expect((await a).status).toBe(200)
    expect((await b).status).toBe(200)
    expect(mw.stats().inflight).toBe(0)
    const fourth = app.request('/work/4')
    await tick()
    openAll()
    expect((await fourth).status).toBe(200)
    // Two shed answers in a row are identical: the pre-rendered answer is not consumed.
    const again = setup()
    void again.app.request('/work/1')
    void again.app.request('/work/2')
    await tick()
    const [x, y] = await Promise.all([again.app.request('/work/3'), again.app.request('/work/4')])
    expect(await x.text()).toBe(await y.text())
    expect(y.headers.get('retry-after')).toBe('1')
    again.openAll()
  })

  it('never sheds a `never` route (health probes), and does not count it', async () => {
    const { app, mw, openAll } = setup({ routes: [{ route: 'GET /healthz', priority: 'never' }] })
    void app.request('/work/1')
    void app.request('/work/2')
    await tick()
    const probes = [app.request('/healthz'), app.request('/healthz'), app.request('/healthz')]
    await tick()
    expect(mw.stats().inflight).toBe(2)
    openAll()
    for (const p of probes) expect((await p).status).toBe(200)
  })

  it('priorities per route: sheddable routes go first, critical ones keep the whole limit', async () => {
    const { app, openAll } = setup({
      limit: 4,
      routes: [
        { route: 'GET /work/*', priority: 'sheddable' },
        { route: 'POST /checkout', priority: 'critical' },
      ],
    })
    void app.request('/work/1')
    void app.request('/work/2')
    await tick()
    expect((await app.request('/work/3')).status).toBe(503) // 2 = 4 × 0.5
    const paid = [
      app.request('/checkout', { method: 'POST' }),
      app.request('/checkout', { method: 'POST' }),
    ]
    await tick()
    expect((await app.request('/checkout', { method: 'POST' })).status).toBe(503)
    openAll()
    for (const p of paid) expect((await p).status).toBe(200)
  })

  it('reads the priority from a trusted header only when told to, and never `never`', async () => {
    const { app, openAll } = setup({ limit: 2, priorityHeader: 'x-priority' })
    void app.request('/work/1', { headers: { 'x-priority': 'sheddable' } })
    await tick()
    expect((await app.request('/work/2', { headers: { 'x-priority': 'sheddable' } })).status).toBe(
      503,
    )
    // 'never' from a client is ignored: the request is normal, and a normal slot is free.
    const promoted = app.request('/work/3', { headers: { 'x-priority': 'never' } })
    await tick()
    expect((await app.request('/work/4')).status).toBe(503)
    openAll()
    expect((await promoted).status).toBe(200)
  })

  it("sheds a request whose deadline is below its route's recent p50 with 504, at once", async () => {
    const { app, clock, mw, openAll } = setup({ limit: 100, deadlineMinSamples: 8 })
    // Teach the route's p50: 8 requests of 50 ms.
    for (let i = 0; i < 8; i++) {
      const r = app.request(`/work/${i}`)
      await tick()
      clock.advance(50)
      openAll()
      await r
    }
    const shed: LimitEventMap['shed'][] = []
    mw.events.on('shed', (e) => shed.push(e))
    const res = await app.request('/work/late', { headers: { 'x-request-timeout-ms': '20' } })
    expect(res.status).toBe(504)
    expect(await res.json()).toMatchObject({ status: 504, code: 'OVERLOADED', reason: 'deadline' })
    expect(res.headers.get('retry-after')).toBeNull()
    expect(shed).toEqual([{ name: 'http-server', reason: 'deadline', priority: 'normal' }])
    // Enough time left: served.
    const ok = app.request('/work/ok', { headers: { 'grpc-timeout': '200m' } })
    await tick()
    openAll()
    expect((await ok).status).toBe(200)
    // Out of time already: shed even before any p50 is known.
    const fresh = setup()
    expect(
      (await fresh.app.request('/work/1', { headers: { 'x-request-timeout-ms': '0' } })).status,
    ).toBe(504)
  })

  it('does not latch: a p50 with no new sample for deadlineStaleMs stops shedding until requests refresh it', async () => {
    const { app, clock, openAll } = setup({ limit: 100, deadlineMinSamples: 8 })
    // A bad spell: 8 requests of 1 s — the route's p50 is now 1 s.
    for (let i = 0; i < 8; i++) {
      const r = app.request(`/work/${i}`)
      await tick()
      clock.advance(1000)
      openAll()
      await r
    }
    // Every caller sends 900 ms: each is shed at once, so none adds a sample...
    const late = { headers: { 'x-request-timeout-ms': '900' } }
    expect((await app.request('/work/a', late)).status).toBe(504)
    clock.advance(500)
    expect((await app.request('/work/b', late)).status).toBe(504)
    // ...and once the p50 has gone a second without one, it is not trusted: served again
    // (the route is fast now), and the fresh samples bring the p50 down.
    clock.advance(600)
    for (let i = 0; i < 8; i++) {
      const r = app.request(`/work/fresh-${i}`, late)
      await tick()
      clock.advance(5)
      openAll()
      expect((await r).status).toBe(200)
    }
    const again = app.request('/work/c', late)
    await tick()
    openAll()
    expect((await again).status).toBe(200)
  })

  it('uses ex.deadline when deadline() runs first, on the same clock', async () => {
    const clock = manualClock(1000)
    const app = new Hono()
    app.use(
      sturdy(
        deadline({ budgetMs: 10, clock }),
        concurrencyLimit({ limit: 5, clock, deadlineMinSamples: 1 }),
      ),
    )
    let ran = 0
    app.get('/x', async (c) => {
      ran++
      clock.advance(30)
      return c.text('late')
    })
    await app.request('/x')
    await app.request('/x')
    const res = await app.request('/x')
    expect(res.status).toBe(504)
    expect(ran).toBeLessThan(3)
  })

  it('with a queue: waits for a slot, answers 503 queue-timeout after queueTimeoutMs', async () => {
    const { app, clock, openAll } = setup({ limit: 1, maxQueue: 2, queueTimeoutMs: 100 })
    const first = app.request('/work/1')
    await tick()
    const queued = app.request('/work/2')
    const timedOut = app.request('/work/3')
    await tick()
    openAll()
    await first
    await tick()
    openAll()
    expect((await queued).status).toBe(200)
    // /work/3 took the slot after /work/2; a fourth waits and times out.
    const late = app.request('/work/4')
    await tick()
    clock.advance(100)
    const res = await late
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ reason: 'queue-timeout' })
    openAll()
    expect((await timedOut).status).toBe(200)
    expect(clock.pending()).toBe(0)
  })

  it('feeds the limit from admitted requests: 5xx answers count as drops', async () => {
    const samples: { rttMs: number; dropped: boolean }[] = []
    const clock = manualClock()
    const app = new Hono()
    app.use(
      sturdy(
        concurrencyLimit({
          clock,
          limit: {
            limit: 10,
            onSample: (s) => samples.push({ rttMs: s.rttMs, dropped: s.dropped }),
          },
        }),
      ),
    )
    app.get('/ok', (c) => {
      clock.advance(7)
      return c.text('ok')
    })
    app.get('/busy', (c) => c.text('busy', 503))
    await app.request('/ok')
    await app.request('/busy')
    expect(samples).toEqual([
      { rttMs: 7, dropped: false },
      { rttMs: 0, dropped: true },
    ])
  })
})

describe('concurrencyLimit on a real server', () => {
  it('a burst past a fixed limit: the excess is shed, no more than the limit ever runs, health never shed', async () => {
    const mw = concurrencyLimit({
      limit: 4,
      routes: [{ route: 'GET /healthz', priority: 'never' }],
    })
    const app = new Hono()
    app.use(sturdy(mw))
    let running = 0
    let peak = 0
    app.get('/work', async (c) => {
      running++
      peak = Math.max(peak, running)
      await new Promise((r) => setTimeout(r, 30))
      running--
      return c.text('done')
    })
    app.get('/healthz', (c) => c.text('ok'))
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise((r) => server.once('listening', r))
    const { port } = server.address() as AddressInfo
    try {
      const url = `http://127.0.0.1:${port}`
      const work = Array.from({ length: 40 }, () => fetch(`${url}/work`).then((r) => r.status))
      const health = Array.from({ length: 10 }, () => fetch(`${url}/healthz`).then((r) => r.status))
      const statuses = await Promise.all(work)
      expect(await Promise.all(health)).toEqual(Array(10).fill(200))
      expect(peak).toBeLessThanOrEqual(4)
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0)
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true)
      expect(mw.stats().inflight).toBe(0)
    } finally {
      ;(server as Server).closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})

describe('the shed path', () => {
  it('allocates no promise of its own: every shed returns the same settled one, and the handler never runs', async () => {
    const mw = concurrencyLimit({ limit: 1 })
    const answers: number[] = []
    const ex = {
      method: 'GET',
      path: '/x',
      deadline: undefined,
      aborted: false,
      header: () => undefined,
      respond: (status: number) => {
        answers.push(status)
      },
    } as unknown as Exchange
    void mw(ex, () => new Promise<void>(() => {})) // holds the only slot
    let ran = 0
    const next = async () => {
      ran++
    }
    const a = mw(ex, next)
    const b = mw(ex, next)
    expect(a).toBe(b)
    await a
    expect(answers).toEqual([503, 503])
    expect(ran).toBe(0)
  })
})

describe('the shed path with a queue', () => {
  it('a full queue refuses with the same settled promise, and makes no request signal', async () => {
    const mw = concurrencyLimit({ limit: 1, maxQueue: 1 })
    const answers: unknown[] = []
    let signals = 0
    const exchange = () =>
      ({
        method: 'GET',
        path: '/x',
        deadline: undefined,
        aborted: false,
        header: () => undefined,
        get signal() {
          signals++
          return new AbortController().signal
        },
        respond: (status: number, body: string) => {
          answers.push([status, JSON.parse(body).reason])
        },
      }) as unknown as Exchange
    const hold = () => new Promise<void>(() => {})
    void mw(exchange(), hold) // the only slot
    void mw(exchange(), hold) // the only place in the queue: its signal is made
    expect(signals).toBe(1)
    const a = mw(exchange(), hold)
    const b = mw(exchange(), hold)
    expect(a).toBe(b)
    await a
    expect(answers).toEqual([
      [503, 'queue-full'],
      [503, 'queue-full'],
    ])
    expect(signals).toBe(1)
  })
})

describe('a pressure signal (event-loop delay)', () => {
  it('sheds normal and sheddable requests by its probability, never critical or never routes', async () => {
    let p = 1
    const mw = concurrencyLimit({
      limit: 100,
      pressure: { probability: () => p },
      random: () => 0.6,
      routes: [
        { route: 'GET /healthz', priority: 'never' },
        { route: 'POST /checkout', priority: 'critical' },
        { route: 'GET /feed', priority: 'sheddable' },
      ],
    })
    const shed: LimitEventMap['shed'][] = []
    mw.events.on('shed', (e) => shed.push(e))
    const app = new Hono()
    app.use(sturdy(mw))
    app.get('/x', (c) => c.text('ok'))
    app.get('/feed', (c) => c.text('ok'))
    app.get('/healthz', (c) => c.text('ok'))
    app.post('/checkout', (c) => c.text('ok'))
    const res = await app.request('/x')
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ code: 'OVERLOADED', reason: 'pressure' })
    expect((await app.request('/healthz')).status).toBe(200)
    expect((await app.request('/checkout', { method: 'POST' })).status).toBe(200)
    p = 0.4 // 0.6 >= 0.4: normal passes; sheddable sheds at twice the rate (0.8)
    expect((await app.request('/x')).status).toBe(200)
    expect((await app.request('/feed')).status).toBe(503)
    p = 0
    expect((await app.request('/feed')).status).toBe(200)
    expect(shed.map((e) => `${e.reason}/${e.priority}`)).toEqual([
      'pressure/normal',
      'pressure/sheddable',
    ])
  })
})
