import { getEventListeners } from 'node:events'
import type { Exchange, Middleware, ObservablePolicy, TimeoutEventMap } from '@sturdy/core'
import {
  abortKind,
  isClientClosedError,
  isShutdownError,
  isTimeoutError,
  problemResponse,
  TimeoutError,
} from '@sturdy/core'
import type { ManualClock } from '@sturdy/core/testing'
import { manualClock } from '@sturdy/core/testing'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import type { ErrorHandler } from 'hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { DeadlineOptions } from './index.ts'
import { deadline, timerWheel } from './index.ts'

/** Renders every error as problem+json and keeps the test output quiet. */
function quiet<A extends { onError(handler: ErrorHandler): unknown }>(app: A): A {
  app.onError(problemErrorHandler())
  return app
}

/** Waits on the request signal, then rejects with its reason, as fetch() does. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/** Records what outer middleware sees once the deadline middleware returns. */
function outerRecorder(seen: Array<{ status: number; responded: boolean }>): Middleware {
  return async function record(ex: Exchange, next) {
    await next()
    seen.push({ status: ex.status, responded: ex.responded })
  }
}

function setup(options: DeadlineOptions = {}, clock: ManualClock = manualClock(1000)) {
  const mw = deadline({ clock, ...options })
  const app = quiet(new Hono().use(sturdy(mw)))
  return { app, mw, clock }
}

describe('deadline() budget and signal', () => {
  it('shares c.var.signal and c.var.deadline (typed), and the budget sets the deadline', async () => {
    const { app } = setup({ budgetMs: 250 })
    let seen: { aborted: boolean; deadline: number | undefined } | undefined
    app.get('/', (c) => {
      seen = { aborted: c.var.signal.aborted satisfies boolean, deadline: c.var.deadline }
      return c.text('ok')
    })
    const res = await app.request('/')
    expect(res.status).toBe(200)
    expect(seen).toEqual({ aborted: false, deadline: 1250 })
  })

  it('creates the request signal only when a handler reads it (c.var.signal, c.get)', async () => {
    // What @hono/node-server passes as env: the signal, once created, watches the Node
    // response for `close`, so listeners added there show whether it was created.
    const watched: string[] = []
    const outgoing = { on: (event: string) => watched.push(event), setHeader: () => {} }
    const { app } = setup({ budgetMs: 250 })
    app.get('/deadline-only', (c) => c.json({ deadline: c.get('deadline') ?? null }))
    app.get('/signal', (c) => c.json({ same: c.var.signal === c.get('signal') }))
    const env = { outgoing }
    expect(await (await app.request('/deadline-only', {}, env)).json()).toEqual({ deadline: 1250 })
    expect(watched).toEqual([])
    expect(await (await app.request('/signal', {}, env)).json()).toEqual({ same: true })
    expect(watched).toEqual(['close'])
  })

  it('defaults to a 15 s budget; Infinity arms nothing but still shares a signal', async () => {
    const clock = manualClock()
    const { app } = setup({}, clock)
    app.get('/', (c) => c.json({ deadline: c.var.deadline ?? null }))
    expect(await (await app.request('/')).json()).toEqual({ deadline: 15_000 })

    const other = manualClock()
    const none = setup({ budgetMs: Number.POSITIVE_INFINITY }, other)
    let signal: AbortSignal | undefined
    let pending = -1
    none.app.get('/', (c) => {
      signal = c.var.signal
      pending = other.pending()
      return c.json({ deadline: c.var.deadline ?? null })
    })
    expect(await (await none.app.request('/')).json()).toEqual({ deadline: null })
    expect(signal).toBeInstanceOf(AbortSignal)
    expect(pending).toBe(0)
  })

  it('per-route budgets: core route patterns matched on method and path, the most specific wins', async () => {
    const { app } = setup({
      budgetMs: 1000,
      routes: {
        'POST /upload': 30_000,
        '/users/:id': 50,
        '/users/me': 55,
        'GET /files/*': 70,
        'HEAD /files/*': 70,
        '/:version{v[0-9]+}/search': 80,
      },
    })
    app.all('*', (c) => c.json({ budget: (c.var.deadline ?? 0) - 1000 }))
    const budget = async (path: string, method = 'GET'): Promise<number> =>
      ((await (await app.request(path, { method })).json()) as { budget: number }).budget
    expect(await budget('/upload', 'POST')).toBe(30_000)
    expect(await budget('/upload', 'PUT')).toBe(1000)
    expect(await budget('/users/42')).toBe(50)
    expect(await budget('/users/me')).toBe(55)
    expect(await budget('/users/42/orders')).toBe(1000)
    expect(await budget('/files')).toBe(70)
    expect(await budget('/files/a/b.txt')).toBe(70)
    expect(await budget('/files/a', 'DELETE')).toBe(1000)
    expect(await budget('/v2/search')).toBe(80)
    expect(await budget('/v2/search/x')).toBe(1000)
  })

  it('per-route budgets: a bad pattern or budget is refused at construction', () => {
    expect(() => deadline({ routes: { 'users/:id': 50 } })).toThrow(RangeError)
    expect(() => deadline({ routes: { '/users/:id': -1 } })).toThrow(RangeError)
    expect(() => deadline({ routes: { '/users/:id': Number.NaN } })).toThrow(RangeError)
  })

  it('per-route budgets: a function of the Exchange, undefined falling back to budgetMs', async () => {
    const { app } = setup({
      budgetMs: 1000,
      routes: (ex) => (ex.path.startsWith('/reports') ? 60_000 : undefined),
    })
    app.all('*', (c) => c.json({ budget: (c.var.deadline ?? 0) - 1000 }))
    expect(await (await app.request('/reports/q3')).json()).toEqual({ budget: 60_000 })
    expect(await (await app.request('/other')).json()).toEqual({ budget: 1000 })
  })

  it('nested deadlines only shrink: a route-level deadline() under an app-level one', async () => {
    const clock = manualClock(1000)
    const app = quiet(new Hono().use(sturdy(deadline({ clock, budgetMs: 1000 }))))
    app.get('/fast', sturdy(deadline({ clock, budgetMs: 100 })), (c) =>
      c.json({ deadline: c.var.deadline }),
    )
    app.get('/long', sturdy(deadline({ clock, budgetMs: 5000 })), (c) =>
      c.json({ deadline: c.var.deadline }),
    )
    expect(await (await app.request('/fast')).json()).toEqual({ deadline: 1100 })
    expect(await (await app.request('/long')).json()).toEqual({ deadline: 2000 })
  })

  it('rejects a negative budget; ignores a route function answering nonsense', async () => {
    expect(() => deadline({ budgetMs: -1 })).toThrow(RangeError)
    expect(() => deadline({ routes: { '/x': Number.NaN } })).toThrow(RangeError)
    const { app } = setup({
      budgetMs: 1000,
      routes: (ex) => (ex.path === '/nan' ? Number.NaN : -5),
    })
    app.all('*', (c) => c.json({ budget: (c.var.deadline ?? 0) - 1000 }))
    expect(await (await app.request('/nan')).json()).toEqual({ budget: 1000 })
    expect(await (await app.request('/neg')).json()).toEqual({ budget: 1000 })
  })
})

describe('deadline() incoming deadlines', () => {
  const budgetOf = async (headers: Record<string, string>, options: DeadlineOptions = {}) => {
    const { app } = setup({ budgetMs: 1000, ...options })
    let handled = false
    app.get('/', (c) => {
      handled = true
      return c.json({ budget: (c.var.deadline ?? 0) - 1000 })
    })
    const res = await app.request('/', { headers })
    return { status: res.status, handled, body: await res.json() }
  }

  it('the smallest of the budget, grpc-timeout, connect-timeout-ms and x-request-timeout-ms wins', async () => {
    expect((await budgetOf({ 'grpc-timeout': '250m' })).body).toEqual({ budget: 250 })
    expect((await budgetOf({ 'grpc-timeout': '1S' })).body).toEqual({ budget: 1000 })
    expect((await budgetOf({ 'grpc-timeout': '1H' })).body).toEqual({ budget: 1000 })
    expect((await budgetOf({ 'grpc-timeout': '500000u' })).body).toEqual({ budget: 500 })
    expect((await budgetOf({ 'connect-timeout-ms': '300' })).body).toEqual({ budget: 300 })
    expect((await budgetOf({ 'x-request-timeout-ms': '400' })).body).toEqual({ budget: 400 })
    expect(
      (
        await budgetOf({
          'grpc-timeout': '700m',
          'connect-timeout-ms': '600',
          'x-request-timeout-ms': '650',
        })
      ).body,
    ).toEqual({ budget: 600 })
  })

  it('ignores malformed values, never failing the request', async () => {
    const malformed: Array<Record<string, string>> = [
      { 'grpc-timeout': '123456789m' },
      { 'grpc-timeout': '10' },
      { 'grpc-timeout': '10ms' },
      { 'grpc-timeout': '-5m' },
      { 'grpc-timeout': '1.5S' },
      { 'connect-timeout-ms': '1.5' },
      { 'connect-timeout-ms': '12345678901' },
      { 'x-request-timeout-ms': 'soon' },
      { 'x-request-timeout-ms': '10, 20' },
    ]
    for (const headers of malformed) {
      const r = await budgetOf(headers)
      expect([headers, r.status, r.body]).toEqual([headers, 200, { budget: 1000 }])
    }
  })

  it('an incoming deadline that has already passed gets 504 without running the handler', async () => {
    const r = await budgetOf({ 'grpc-timeout': '0n' })
    expect(r.status).toBe(504)
    expect(r.handled).toBe(false)
    expect(r.body).toMatchObject({ status: 504, code: 'TIMEOUT' })
  })

  it('incoming: false ignores the headers; an object picks them', async () => {
    expect((await budgetOf({ 'grpc-timeout': '5m' }, { incoming: false })).body).toEqual({
      budget: 1000,
    })
    const picky: DeadlineOptions = { incoming: { grpc: false, header: 'x-budget-ms' } }
    expect((await budgetOf({ 'grpc-timeout': '5m' }, picky)).body).toEqual({ budget: 1000 })
    expect((await budgetOf({ 'x-request-timeout-ms': '5' }, picky)).body).toEqual({
      budget: 1000,
    })
    expect((await budgetOf({ 'x-budget-ms': '5' }, picky)).body).toEqual({ budget: 5 })
    expect((await budgetOf({ 'connect-timeout-ms': '7' }, picky)).body).toEqual({ budget: 7 })
  })
})

describe('deadline() at the deadline', () => {
  it('answers 504 problem+json at once, then aborts the handler signal with a TimeoutError', async () => {
    const { app, mw, clock } = setup({ budgetMs: 100 })
    const events: TimeoutEventMap['timeout'][] = []
    mw.events.on('timeout', (e) => events.push(e))
    let signal: AbortSignal | undefined
    let handlerSettled = false
    app.get('/slow', async (c) => {
      signal = c.var.signal
      try {
        await untilAborted(c.var.signal)
      } finally {
        handlerSettled = true
      }
      return c.text('unreachable')
    })
    const pending = app.request('/slow')
    await clock.advanceAsync(99)
    expect(signal?.aborted).toBe(false)
    await clock.advanceAsync(1)
    const res = await pending
    expect(res.status).toBe(504)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toEqual({
      title: 'Gateway Timeout',
      status: 504,
      code: 'TIMEOUT',
      detail: 'Deadline of 100 ms exceeded',
    })
    expect(signal?.aborted).toBe(true)
    expect(abortKind(signal?.reason)).toBe('deadline')
    expect(handlerSettled).toBe(true)
    expect(events).toEqual([{ name: 'deadline', timeoutMs: 100, scope: 'deadline' }])
    expect(clock.pending()).toBe(0)
  })

  it('renders its 504 like a TimeoutError escaping a handler: one renderer, core problemResponse', async () => {
    const { app, clock } = setup({ budgetMs: 100 })
    app.get('/slow', (c) => untilAborted(c.var.signal))
    app.get('/thrown', () => {
      throw new TimeoutError('Deadline of 100 ms exceeded', 100)
    })
    const pending = app.request('/slow')
    await clock.advanceAsync(100)
    const own = await pending
    const escaped = await app.request('/thrown')
    const expected = problemResponse(new TimeoutError('Deadline of 100 ms exceeded', 100))
    for (const res of [own, escaped]) {
      expect(res.status).toBe(expected.status)
      expect(Object.fromEntries(res.headers)).toEqual(expected.headers)
      expect(await res.text()).toBe(expected.body)
    }
  })

  it('a handler that throws the abort reason at once does not replace the 504', async () => {
    // The race the deferred abort exists for: in Hono an error thrown by the handler
    // lands on c.res (through onError) even after the middleware answered.
    for (const sync of [true, false]) {
      const clock = manualClock()
      const app = new Hono().use(sturdy(deadline({ clock, budgetMs: 100 })))
      app.onError((_error, c) => c.text('handler error', 500))
      app.get('/', async (c) => {
        if (!sync) await Promise.resolve()
        return untilAborted(c.var.signal)
      })
      const pending = app.request('/')
      await clock.advanceAsync(100)
      const res = await pending
      expect([res.status, (await res.json()).code]).toEqual([504, 'TIMEOUT'])
    }
  })

  it('writes nothing twice: a handler finishing after the deadline changes nothing', async () => {
    const seen: Array<{ status: number; responded: boolean }> = []
    const clock = manualClock()
    const app = quiet(
      new Hono().use(sturdy(outerRecorder(seen), deadline({ clock, budgetMs: 100 }))),
    )
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let late: Response | undefined
    app.get('/', async (c) => {
      await gate // ignores the signal
      late = c.text('late', 200)
      return late
    })
    const pending = app.request('/')
    await clock.advanceAsync(100)
    const res = await pending
    expect(res.status).toBe(504)
    expect(seen).toEqual([{ status: 504, responded: true }])
    release()
    await clock.advanceAsync(0)
    expect(late?.status).toBe(200)
    expect(res.status).toBe(504)
    expect(await res.text()).toContain('Deadline of 100 ms exceeded')
    expect(seen).toHaveLength(1)
  })

  it('a custom responder writes the timeout answer', async () => {
    const { app, clock } = setup({
      budgetMs: 10,
      respond: (ex, reason) => ex.respond(reason.status, 'too slow', { 'x-why': reason.code }),
    })
    app.get('/', (c) => untilAborted(c.var.signal))
    const pending = app.request('/')
    await clock.advanceAsync(10)
    const res = await pending
    expect([res.status, res.headers.get('x-why'), await res.text()]).toEqual([
      504,
      'TIMEOUT',
      'too slow',
    ])
  })

  it('a custom responder that throws falls back to the default answer', async () => {
    const { app, clock } = setup({
      budgetMs: 10,
      respond: () => {
        throw new Error('responder bug')
      },
    })
    app.get('/', (c) => untilAborted(c.var.signal))
    const pending = app.request('/')
    await clock.advanceAsync(10)
    const res = await pending
    expect([res.status, (await res.json()).code]).toEqual([504, 'TIMEOUT'])
  })

  it('releases the deadline when the handler answers or fails first', async () => {
    const { app, clock } = setup({ budgetMs: 100 })
    app.get('/ok', (c) => c.text('ok'))
    app.get('/boom', () => {
      throw new Error('boom')
    })
    expect((await app.request('/ok')).status).toBe(200)
    expect((await app.request('/boom')).status).toBe(500)
    await clock.advanceAsync(100)
    expect(clock.pending()).toBe(0)
  })

  it('is an ObservablePolicy (kind, name, events)', () => {
    const mw: ObservablePolicy = deadline({ name: 'api' })
    expect([mw.kind, mw.name]).toEqual(['timeout', 'api'])
  })
})

describe('deadline() client disconnect and shutdown', () => {
  it('a client disconnect aborts the signal with ClientClosedError and the middleware writes nothing', async () => {
    const seen: Array<{ status: number; responded: boolean }> = []
    const clock = manualClock()
    const app = quiet(
      new Hono().use(sturdy(outerRecorder(seen), deadline({ clock, budgetMs: 1000 }))),
    )
    let reason: unknown
    app.get('/', async (c) => {
      try {
        return await untilAborted(c.var.signal)
      } catch (error) {
        reason = error
        throw error
      }
    })
    const client = new AbortController()
    const pending = Promise.resolve(app.request('/', { signal: client.signal }))
    await clock.advanceAsync(10)
    client.abort()
    await pending.catch(() => undefined)
    await clock.advanceAsync(0)
    expect(isClientClosedError(reason)).toBe(true)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.responded).toBe(false)
    await clock.advanceAsync(1000)
    expect(clock.pending()).toBe(0)
  })

  it('shutdown answers 503 to requests in flight, aborts them with ShutdownError, and refuses new ones', async () => {
    const clock = manualClock()
    const shutdown = new AbortController()
    const { app } = setup({ budgetMs: 10_000, shutdown: shutdown.signal }, clock)
    const reasons: unknown[] = []
    let ran = 0
    app.get('/', async (c) => {
      ran++
      try {
        return await untilAborted(c.var.signal)
      } catch (error) {
        reasons.push(error)
        throw error
      }
    })
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    const inFlight = [app.request('/'), app.request('/'), app.request('/')]
    await clock.advanceAsync(0)
    // One listener serves every request in flight.
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)
    shutdown.abort()
    const answers = await Promise.all(inFlight)
    expect(answers.map((r) => r.status)).toEqual([503, 503, 503])
    expect(await answers[0]?.json()).toMatchObject({ status: 503, code: 'SHUTDOWN' })
    await clock.advanceAsync(0)
    expect(reasons.map(isShutdownError)).toEqual([true, true, true])
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)

    const late = await app.request('/')
    expect(late.status).toBe(503)
    expect(ran).toBe(3)
    // The wheel lets go of its (cancelled) timer when the tick it was armed for passes.
    await clock.advanceAsync(10_000)
    expect(clock.pending()).toBe(0)
  })

  it('removes its shutdown listener when requests end normally', async () => {
    const shutdown = new AbortController()
    const { app } = setup({ shutdown: shutdown.signal })
    app.get('/', (c) => c.text('ok'))
    await Promise.all([app.request('/'), app.request('/')])
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
  })

  it('one wheel can carry several middleware and policies', async () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock })
    const app = quiet(new Hono().use(sturdy(deadline({ wheel, budgetMs: 50 }))))
    app.get('/', (c) => untilAborted(c.var.signal))
    const all = Array.from({ length: 20 }, () => app.request('/'))
    await clock.advanceAsync(0)
    expect(wheel.size).toBe(20)
    expect(clock.pending()).toBe(1)
    await clock.advanceAsync(50)
    expect((await Promise.all(all)).every((r) => r.status === 504)).toBe(true)
    expect(wheel.size).toBe(0)
    expect(isTimeoutError(undefined)).toBe(false)
  })
})
