import { Writable } from 'node:stream'
import { pino } from 'pino'
import { describe, expect, it, vi } from 'vitest'
import type { AppOptions } from './app.ts'
import { createApp } from './app.ts'
import type { UserStore } from './store.ts'
import { memoryStore } from './store.ts'

function setup(overrides: Partial<AppOptions> = {}) {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    },
  })
  const service = createApp({
    store: memoryStore([{ id: '1', name: 'Ada', email: 'ada@x.io' }]),
    logger: pino({ level: 'debug' }, stream),
    ...overrides,
  })
  return { ...service, lines }
}

const json = { 'content-type': 'application/json' }
const post = (body: string, headers: Record<string, string> = json) =>
  setup().app.request('/users', { method: 'POST', body, headers })

describe('example app: routes', () => {
  it('GET /healthz', async () => {
    const res = await setup().app.request('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('GET /users/:id returns a user', async () => {
    const res = await setup().app.request('/users/1')
    expect(await res.json()).toEqual({ id: '1', name: 'Ada', email: 'ada@x.io' })
  })

  it('an unknown id is a 404 problem', async () => {
    const res = await setup().app.request('/users/999')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toEqual({
      title: 'Not Found',
      status: 404,
      detail: 'No user with id 999',
    })
  })

  it('POST /users creates a user and it can be read back', async () => {
    const { app } = setup()
    const res = await app.request('/users', {
      method: 'POST',
      body: JSON.stringify({ name: 'Grace', email: 'grace@x.io' }),
      headers: json,
    })
    expect(res.status).toBe(201)
    const user = (await res.json()) as { id: string }
    expect(res.headers.get('location')).toBe(`/users/${user.id}`)
    expect(await (await app.request(`/users/${user.id}`)).json()).toMatchObject({ name: 'Grace' })
  })

  it('malformed JSON is a 400 problem', async () => {
    const res = await post('{"name": ')
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 400, detail: 'Malformed JSON body' })
  })

  it('a bad body is a 400 problem naming each failing field', async () => {
    const res = await post(JSON.stringify({ name: '', email: 'nope' }))
    expect(res.status).toBe(400)
    const body = (await res.json()) as { errors: Array<{ path: string }> }
    expect(body.errors.map((e) => e.path).sort()).toEqual(['email', 'name'])
  })

  it('a wrong content type is a 400 problem', async () => {
    const res = await post('name=x', { 'content-type': 'application/x-www-form-urlencoded' })
    expect(res.status).toBe(400)
  })

  it('an oversized body is a 413 problem', async () => {
    const res = await post(JSON.stringify({ name: 'x'.repeat(20_000), email: 'a@b.io' }))
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' })
  })

  it('an unknown route is a 404 problem', async () => {
    const res = await setup().app.request('/nope')
    expect(res.status).toBe(404)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
  })

  it('a crash is a 500 problem with no stack or message', async () => {
    const broken: UserStore = {
      get: async () => {
        throw new TypeError('db password=hunter2')
      },
      create: async () => {
        throw new TypeError('x')
      },
    }
    const res = await setup({ store: broken }).app.request('/users/1')
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ title: 'Internal Server Error', status: 500 })
    expect(text).not.toContain('hunter2')
  })
})

describe('example app: the Sturdy stack', () => {
  it('logs one access line per request with a request id echoed on the response', async () => {
    const { app, lines } = setup()
    const res = await app.request('/users/1', { headers: { 'x-request-id': 'abc-123' } })
    expect(res.headers.get('x-request-id')).toBe('abc-123')
    const access = lines.filter((l) => l.msg === 'request completed')
    expect(access).toHaveLength(1)
    expect(access[0]).toMatchObject({
      req_id: 'abc-123',
      method: 'GET',
      route: '/users/:id',
      path: '/users/1',
      status: 200,
    })
  })

  it('serves RED metrics by route template on /metrics', async () => {
    const { app } = setup()
    await app.request('/users/1')
    await app.request('/users/2')
    await app.request('/no/such/path')
    const text = await (await app.request('/metrics')).text()
    expect(text).toContain(
      'http_server_request_duration_seconds_count{method="GET",route="/users/:id",status_code="200"} 1',
    )
    expect(text).toContain(
      'http_server_request_duration_seconds_count{method="GET",route="/users/:id",status_code="404"} 1',
    )
    expect(text).toContain('route="__unmatched__",status_code="404"} 1')
    expect(text).not.toContain('/no/such/path')
  })

  it('answers 504 at the deadline and cancels the store call', async () => {
    let storeSignal: AbortSignal | undefined
    const hanging: UserStore = {
      get: (_id, signal) =>
        new Promise((_resolve, reject) => {
          storeSignal = signal
          signal?.addEventListener('abort', () => reject(signal.reason))
        }),
      create: async () => {
        throw new Error('unused')
      },
    }
    const { app } = setup({ store: hanging, budgetMs: 30 })
    const res = await app.request('/users/1')
    expect(res.status).toBe(504)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    // The deadline aborts the signal right after the 504 has been handed over.
    await vi.waitFor(() => expect(storeSignal?.aborted).toBe(true))
  })

  it('answers 503 with Retry-After once the store breaker is open', async () => {
    const failing: UserStore = {
      get: async () => {
        throw new Error('connection refused')
      },
      create: async () => {
        throw new Error('connection refused')
      },
    }
    const { app, registry } = setup({ store: failing })
    // Writes are not retried: each failure counts once; the 6th consecutive one trips it.
    for (let i = 0; i < 6; i++) {
      const res = await app.request('/users', {
        method: 'POST',
        body: JSON.stringify({ name: 'x', email: 'x@y.io' }),
        headers: json,
      })
      expect(res.status).toBe(500)
    }
    const res = await app.request('/users/1')
    expect(res.status).toBe(503)
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await res.json()).toMatchObject({ status: 503, code: 'BROKEN_CIRCUIT' })
    const text = await registry.metrics()
    expect(text).toMatch(/sturdy_breaker_state\{name="user-store"\} 2/)
  })
})
