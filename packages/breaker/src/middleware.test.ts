import type { BreakerEventMap, Exchange, Middleware } from '@sturdy/core'
import {
  respondProblem,
  ShutdownError,
  TimeoutError,
  UNMATCHED_ROUTE,
  VALUES,
  ValidationError,
} from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { BreakerMiddlewareOptions } from './index.ts'
import { breakerMiddleware, keyedBreaker } from './index.ts'

function setup(options: BreakerMiddlewareOptions = {}) {
  const clock = manualClock()
  const mw = breakerMiddleware({
    breakers: keyedBreaker({ clock, breaker: { openMs: 10_000 } }),
    ...options,
  })
  const ran: string[] = []
  const app = new Hono()
  app.use(sturdy(mw))
  return { app, clock, mw, ran }
}

describe('breakerMiddleware on Hono', () => {
  it('learns the route template, opens after 6 failing requests and answers 503 problem+json with Retry-After at once', async () => {
    const { app, clock, mw, ran } = setup()
    let healthy = false
    app.get('/users/:id', (c) => {
      ran.push(c.req.param('id'))
      return healthy ? c.json({ ok: true }) : c.json({ title: 'down' }, 500)
    })
    app.get('/other', (c) => c.text('fine'))
    const changes: BreakerEventMap['stateChange'][] = []
    mw.events.on('stateChange', (e) => changes.push(e))

    for (let i = 1; i <= 6; i++) expect((await app.request(`/users/${i}`)).status).toBe(500)
    expect(changes).toEqual([
      { name: 'GET /users/:id', from: 'closed', to: 'open', reason: 'consecutive-failures' },
    ])

    clock.advance(2500)
    const res = await app.request('/users/99')
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('retry-after')).toBe('8')
    expect(await res.json()).toEqual({
      title: 'Service Unavailable',
      status: 503,
      code: 'BROKEN_CIRCUIT',
      detail: 'Circuit "GET /users/:id" is open',
      retryAfterMs: 7500,
    })
    expect(ran).toEqual(['1', '2', '3', '4', '5', '6']) // the handler did not run
    expect((await app.request('/other')).status).toBe(200) // other routes are unaffected

    clock.advance(7500)
    healthy = true
    expect((await app.request('/users/7')).status).toBe(200) // the half-open trial
    expect(mw.breakers.get('GET /users/:id').state).toBe('closed')
    expect(clock.pending()).toBe(0)
  })

  it('rejects a second request while the half-open trial is in flight, with Retry-After 1', async () => {
    const { app, clock } = setup()
    let release = (): void => {}
    let slow = false
    app.get('/jobs/:id', async (c) => {
      if (slow) await new Promise<void>((r) => (release = r))
      return c.text('x', slow ? 200 : 503)
    })
    for (let i = 0; i < 6; i++) await app.request('/jobs/1')
    clock.advance(10_000)
    slow = true
    const trial = app.request('/jobs/1')
    await new Promise((r) => setImmediate(r))
    const second = await app.request('/jobs/2')
    expect(second.status).toBe(503)
    expect(second.headers.get('retry-after')).toBe('1')
    expect((await second.json()).detail).toBe(
      'Circuit "GET /jobs/:id" is half-open and all trial calls are taken',
    )
    release()
    expect((await trial).status).toBe(200)
    slow = false
    expect((await app.request('/jobs/3')).status).toBe(503) // closed again: runs, and fails
  })

  it('counts thrown errors and 5xx as failures, 4xx and exposed 4xx errors as successes', async () => {
    const { app, mw } = setup()
    app.onError((err, c) =>
      c.json({ error: err.message }, err instanceof ValidationError ? 400 : 500),
    )
    app.get('/t/:kind', (c) => {
      const kind = c.req.param('kind')
      if (kind === 'throw') throw new Error('bug')
      if (kind === 'invalid') throw new ValidationError('bad')
      return c.text(kind, kind === '404' ? 404 : 502)
    })
    await app.request('/t/404') // learns the template (recorded after the fact)
    await app.request('/t/invalid')
    await app.request('/t/throw')
    await app.request('/t/502')
    expect(mw.breakers.peek('GET /t/:kind')?.counts).toMatchObject({
      requests: 4,
      totalSuccesses: 2,
      totalFailures: 2,
    })
  })

  it('makes the failing statuses configurable (429 counts, 5xx does not)', async () => {
    const { app, mw } = setup({ isFailureStatus: (s) => s === 429 })
    app.get('/q/:s', (c) => c.text('x', Number(c.req.param('s')) as 200))
    await app.request('/q/429')
    await app.request('/q/500')
    await app.request('/q/429')
    expect(mw.breakers.peek('GET /q/:s')?.counts).toMatchObject({
      totalFailures: 2,
      totalSuccesses: 1,
    })
  })

  it('guards only the routes the filter selects, and never creates breakers for unmatched paths', async () => {
    const { app, mw } = setup({ routes: (route) => route.startsWith('/api/') })
    app.get('/health', (c) => c.text('x', 500))
    app.get('/api/items', (c) => c.text('x', 500))
    for (let i = 0; i < 10; i++) {
      await app.request('/health')
      await app.request(`/nope/${i}`)
    }
    expect([...mw.breakers.keys()]).toEqual([])
    for (let i = 0; i < 6; i++) await app.request('/api/items')
    expect((await app.request('/api/items')).status).toBe(503)
    expect((await app.request('/health')).status).toBe(500)
    expect([...mw.breakers.keys()]).toEqual(['GET /api/items'])
  })

  it('prefers the most specific learned template: /users/me and /users/:id are separate breakers', async () => {
    const { app, mw } = setup()
    app.get('/users/me', (c) => c.text('me', 500))
    app.get('/users/:id', (c) => c.text('id'))
    await app.request('/users/1')
    for (let i = 0; i < 6; i++) await app.request('/users/me')
    expect((await app.request('/users/me')).status).toBe(503)
    expect((await app.request('/users/2')).status).toBe(200)
    expect(mw.breakers.peek('GET /users/me')?.state).toBe('open')
    expect(mw.breakers.peek('GET /users/:id')?.counts.totalSuccesses).toBe(2)
  })

  it('records a first request after the fact without reporting a rejection when its breaker is open', async () => {
    const { app, mw } = setup({ key: undefined })
    const rejected: string[] = []
    mw.events.on('rejected', (e) => rejected.push(e.name))
    app.get('/r/:id', (c) => c.text('x', 500))
    mw.breakers.get('GET /r/:id').isolate() // open before the route was ever seen
    expect((await app.request('/r/1')).status).toBe(500) // unguarded: not yet learned
    expect(rejected).toEqual([])
    expect(mw.breakers.peek('GET /r/:id')?.counts.requests).toBe(0)
    expect((await app.request('/r/2')).status).toBe(503)
    expect(rejected).toEqual(['GET /r/:id'])
  })

  it('understands wildcard, optional and regex params, and methods apart', async () => {
    const { app, mw } = setup()
    app.get('/files/*', (c) => c.text('x', 500))
    app.get('/posts/:id{[0-9]+}', (c) => c.text('x', 500))
    app.get('/posts/:slug', (c) => c.text('slug'))
    app.post('/files/*', (c) => c.text('ok', 201))
    for (let i = 0; i < 6; i++) await app.request(`/files/a/b/${i}.txt`)
    expect((await app.request('/files/z')).status).toBe(503)
    expect((await app.request('/files/z', { method: 'POST' })).status).toBe(201)
    for (let i = 0; i < 6; i++) await app.request(`/posts/${i}`)
    expect((await app.request('/posts/42')).status).toBe(503)
    expect((await app.request('/posts/hello')).status).toBe(200)
    expect([...mw.breakers.keys()].sort()).toEqual([
      'GET /files/*',
      'GET /posts/:id{[0-9]+}',
      'GET /posts/:slug',
      'POST /files/*',
    ])
  })

  it('with a key function, guards from the first request and leaves undefined keys alone', async () => {
    const { app, ran } = setup({ key: (ex) => ex.header('x-tenant') })
    app.get('/work', (c) => {
      ran.push(c.req.header('x-tenant') ?? '-')
      return c.text('x', 500)
    })
    const as = (tenant?: string) =>
      app.request('/work', tenant ? { headers: { 'x-tenant': tenant } } : {})
    for (let i = 0; i < 6; i++) await as('acme')
    expect((await as('acme')).status).toBe(503)
    expect((await as('globex')).status).toBe(500)
    for (let i = 0; i < 8; i++) expect((await as()).status).toBe(500)
    expect(ran.filter((t) => t === 'acme')).toHaveLength(6)
  })

  it('excludes requests whose client went away', async () => {
    const { app, mw } = setup({ key: () => 'k' })
    const client = new AbortController()
    app.get('/x', (c) => {
      client.abort()
      return c.text('x', 500)
    })
    await app.request('/x', { signal: client.signal })
    expect(mw.breakers.peek('k')?.counts).toMatchObject({
      requests: 1,
      totalExclusions: 1,
      totalFailures: 0,
    })
  })

  it('excludes requests cut off by a server shutdown (the deadline middleware outside it)', async () => {
    const { mw, settled, cut, answered } = await cutOffRequest(() => new ShutdownError())
    expect((await answered).status).toBe(503)
    await settled
    expect(cut.settledCalls).toBe(1)
    expect(mw.breakers.peek('k')?.counts).toMatchObject({
      requests: 1,
      totalExclusions: 1,
      totalFailures: 0,
    })
  })

  it('counts a request its deadline cut off (the deadline middleware outside it) as a failure', async () => {
    const { mw, settled, answered } = await cutOffRequest(
      () => new TimeoutError('Deadline of 100 ms exceeded', 100),
    )
    expect((await answered).status).toBe(504)
    await settled
    expect(mw.breakers.peek('k')?.counts).toMatchObject({ requests: 1, totalFailures: 1 })
  })

  it('answers retryAfterMs in whole ms (rounded up) in the body and Retry-After, on a fractional clock', async () => {
    const { app, clock } = setup({ key: () => 'k' })
    app.get('/', (c) => c.text('down', 500))
    clock.advance(0.25)
    for (let i = 0; i < 6; i++) await app.request('/')
    clock.advance(2500.4)
    const res = await app.request('/')
    expect(res.status).toBe(503)
    const body = (await res.json()) as { retryAfterMs: number }
    expect(body.retryAfterMs).toBe(7500) // 7499.6 left, rounded up: never early
    expect(Number.isInteger(body.retryAfterMs)).toBe(true)
    expect(res.headers.get('retry-after')).toBe('8')
  })

  it('is observable like a breaker and shares a keyed set passed in', async () => {
    const clock = manualClock()
    const shared = keyedBreaker({ name: 'edge', clock })
    const mw = breakerMiddleware({ breakers: shared, key: () => 'all' })
    expect(mw.kind).toBe('breaker')
    expect(mw.name).toBe('breakerMiddleware') // a named function, for stack traces
    expect(mw.events).toBe(shared.events)
    expect(mw.breakers).toBe(shared)
    expect(mw.breakers.name).toBe('edge')
    const app = new Hono().use(sturdy(mw))
    app.get('/', (c) => c.text('ok'))
    shared.get('all').isolate()
    const res = await app.request('/')
    expect(res.status).toBe(503)
    expect((await res.json()).detail).toBe('Circuit "all" is isolated')
  })

  it('builds its own keyed set from options', async () => {
    const mw = breakerMiddleware({ breakers: { maxKeys: 5 }, key: () => 'k' })
    expect(mw.breakers.name).toBe('http-server')
    const app = new Hono().use(sturdy(mw))
    app.get('/', (c) => c.text('ok'))
    expect((await app.request('/')).status).toBe(200)
    expect(mw.breakers.size).toBe(1)
  })

  it('uses a custom outcome classifier', async () => {
    const { app, mw } = setup({
      key: () => 'k',
      outcome: (ex) => (ex.status === 404 ? 'failure' : ex.status === 500 ? 'excluded' : 'success'),
    })
    app.get('/s/:n', (c) => c.text('x', Number(c.req.param('n')) as 200))
    await app.request('/s/404')
    await app.request('/s/500')
    await app.request('/s/200')
    expect(mw.breakers.peek('k')?.counts).toMatchObject({
      totalFailures: 1,
      totalExclusions: 1,
      totalSuccesses: 1,
    })
  })
})

/**
 * What `@sturdy/timeout`'s `deadline()` does when a deadline passes or the server shuts
 * down (docs/timeout.md): answer at once (504 / 503 problem+json), stop waiting, and
 * abort the request signal with the reason one macrotask later. A stand-in, because
 * `@sturdy/timeout`'s own tests depend on this package (a workspace cycle otherwise);
 * the logger's tests run the real `deadline()`.
 */
function cutOffGate(
  trigger: AbortSignal,
  reason: () => Error,
): Middleware<{ signal: AbortSignal }> {
  return (ex, next) => {
    ex.set(VALUES.signal, ex.signal)
    return new Promise<void>((resolve, reject) => {
      const cut = (): void => {
        const why = reason()
        respondProblem(ex, why)
        resolve()
        setTimeout(() => ex.abort(why), 0)
      }
      trigger.addEventListener('abort', cut, { once: true })
      next()
        .then(resolve, reject)
        .finally(() => trigger.removeEventListener('abort', cut))
    })
  }
}

/**
 * A Hono app with the cut-off gate outside the breaker middleware and a handler whose
 * signal-aware work ends only when the request signal aborts; cuts one request off.
 */
async function cutOffRequest(reason: () => Error) {
  const trigger = new AbortController()
  const mw = breakerMiddleware({ breakers: keyedBreaker({ clock: manualClock() }), key: () => 'k' })
  const app = new Hono().use(sturdy(cutOffGate(trigger.signal, reason), mw))
  app.onError(problemErrorHandler()) // Hono's default would print the late error
  const cut = { settledCalls: 0 }
  let handlerDone = (): void => {}
  const settled = new Promise<void>((r) => (handlerDone = r))
  app.get('/work', async (c) => {
    const signal = c.var.signal
    try {
      await new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      )
    } finally {
      cut.settledCalls++
      // The breaker classifies when next() settles, a few promise hops after this.
      setTimeout(handlerDone, 0)
    }
    return c.text('never')
  })
  const answered = app.request('/work')
  await new Promise((r) => setImmediate(r))
  trigger.abort()
  return { mw, settled, cut, answered }
}

/** A bare Exchange for adapters whose `next()` rejects (Express/Fastify-style). */
function bareExchange(path: string): Exchange & { sent?: number } {
  const values = new Map<string, unknown>()
  const ex: Exchange & { sent?: number } = {
    method: 'GET',
    path,
    scheme: 'http',
    host: undefined,
    header: () => undefined,
    setHeader: () => {},
    route: () => UNMATCHED_ROUTE,
    status: 200,
    error: undefined,
    responseSize: undefined,
    signal: new AbortController().signal,
    aborted: false,
    abort: () => {},
    deadline: undefined,
    get: <T>(k: string) => values.get(k) as T | undefined,
    set: (k, v) => values.set(k, v),
    respond(status) {
      ex.sent = status
    },
    responded: false,
  }
  return ex
}

describe('breakerMiddleware with an adapter whose next() rejects', () => {
  it('records the rejection as a failure and rethrows it', async () => {
    const clock = manualClock()
    const mw = breakerMiddleware({ breakers: keyedBreaker({ clock }), key: () => 'k' })
    const boom = new Error('handler blew up')
    for (let i = 0; i < 6; i++) {
      await expect(mw(bareExchange('/x'), () => Promise.reject(boom))).rejects.toBe(boom)
    }
    const ex = bareExchange('/x')
    let ran = false
    await mw(ex, async () => {
      ran = true
    })
    expect(ran).toBe(false)
    expect(ex.sent).toBe(503)
  })
})
