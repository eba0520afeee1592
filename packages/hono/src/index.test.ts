import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Exchange, Middleware } from '@sturdy/core'
import { ClientClosedError, respondProblem, UNMATCHED_ROUTE, ValidationError } from '@sturdy/core'
import { Context, Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { exchangeOf, sturdy } from './index.ts'

interface Seen {
  method?: string
  path?: string
  scheme?: string
  host?: string | undefined
  header?: string | undefined
  route?: string
  status?: number
  error?: unknown
  size?: number | undefined
}

/** Records every Exchange field a middleware can observe. */
function recorder(seen: Seen[]): Middleware {
  return async function record(ex: Exchange, next) {
    const s: Seen = {
      method: ex.method,
      path: ex.path,
      scheme: ex.scheme,
      host: ex.host,
      header: ex.header('x-test'),
    }
    ex.setHeader('x-before', 'yes')
    await next()
    s.route = ex.route()
    s.status = ex.status
    s.error = ex.error
    s.size = ex.responseSize
    seen.push(s)
  }
}

function provides<V extends object>(values: V): Middleware<V> {
  return async (ex, next) => {
    for (const [k, v] of Object.entries(values)) ex.set(k, v)
    await next()
  }
}

describe('sturdy() on Hono', () => {
  it('maps request fields, the route template, status and response headers', async () => {
    const seen: Seen[] = []
    const app = new Hono()
    app.use(sturdy(recorder(seen)))
    app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }))
    const res = await app.request('http://api.test/users/42?x=1', { headers: { 'X-Test': 'v' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-before')).toBe('yes')
    expect(seen).toEqual([
      {
        method: 'GET',
        path: '/users/42',
        scheme: 'http',
        host: undefined,
        header: 'v',
        route: '/users/:id',
        status: 200,
        error: undefined,
        size: undefined,
      },
    ])
  })

  it("reads the peer address from each runtime's env: node-server, Bun, Deno; none without one", async () => {
    const seen: (string | undefined)[] = []
    const app = new Hono()
    app.use(
      sturdy(async function remote(ex, next) {
        seen.push(ex.remoteAddress)
        await next()
      }),
    )
    app.get('/', (c) => c.text('ok'))
    await app.request('/', {}, { incoming: { socket: { remoteAddress: '10.0.0.1' } } })
    await app.request('/', {}, { requestIP: () => ({ address: '10.0.0.2', port: 1 }) })
    await app.request('/', {}, { remoteAddr: { hostname: '10.0.0.3', port: 1 } })
    await app.request('/')
    expect(seen).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3', undefined])
  })

  it('reports errors thrown by handlers, sync and async, with the error response status', async () => {
    const seen: Seen[] = []
    const app = new Hono()
    app.use(sturdy(recorder(seen)))
    app.get('/sync', () => {
      throw new Error('boom')
    })
    app.get('/async', async () => {
      await Promise.resolve()
      throw new TypeError('later')
    })
    expect((await app.request('/sync')).status).toBe(500)
    expect((await app.request('/async')).status).toBe(500)
    expect(seen.map((s) => [s.route, s.status, (s.error as Error).message])).toEqual([
      ['/sync', 500, 'boom'],
      ['/async', 500, 'later'],
    ])
  })

  it('gives every unmatched request one fixed route value, never the raw path', async () => {
    const seen: Seen[] = []
    const app = new Hono()
    app.use(sturdy(recorder(seen)))
    app.use('*', async (_c, next) => {
      await next()
    })
    app.get('/users/:id', (c) => c.text('x'))
    await app.request('/nope/1')
    await app.request('/nope/2')
    await app.request('/users/1', { method: 'DELETE' })
    expect(seen.map((s) => [s.route, s.status])).toEqual([
      [UNMATCHED_ROUTE, 404],
      [UNMATCHED_ROUTE, 404],
      [UNMATCHED_ROUTE, 404],
    ])
  })

  it('route() asked before and after next() answers for the moment it is asked', async () => {
    const seen: string[] = []
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        seen.push(ex.route())
        await next()
        seen.push(ex.route(), ex.route())
      }),
    )
    app.get('/users/:id', (c) => c.text('x'))
    await app.request('/users/1')
    await app.request('/nope')
    expect(seen).toEqual([
      UNMATCHED_ROUTE,
      '/users/:id',
      '/users/:id',
      UNMATCHED_ROUTE,
      UNMATCHED_ROUTE,
      UNMATCHED_ROUTE,
    ])
  })

  it('a handler 404 on a matched route keeps its template', async () => {
    const seen: Seen[] = []
    const app = new Hono()
    app.use(sturdy(recorder(seen)))
    app.get('/users/:id', (c) => c.json({ title: 'Not Found' }, 404))
    await app.request('/users/9')
    expect(seen[0]?.route).toBe('/users/:id')
  })

  it('reports the full template of routes in sub-apps mounted with app.route()', async () => {
    const seen: Seen[] = []
    const api = new Hono()
    api.get('/orders/:orderId', (c) => c.text('ok'))
    const app = new Hono()
    app.use(sturdy(recorder(seen)))
    app.route('/api/v1', api)
    await app.request('/api/v1/orders/7')
    expect(seen[0]?.route).toBe('/api/v1/orders/:orderId')
  })

  it('short-circuits: respond() answers without running the handler and keeps earlier headers', async () => {
    let ran = false
    const seen: Seen[] = []
    const reject: Middleware = async (ex) => {
      respondProblem(ex, new ValidationError('bad', [{ path: 'id', message: 'required' }]))
    }
    const app = new Hono()
    app.use(sturdy(recorder(seen), reject))
    app.get('/x', (c) => {
      ran = true
      return c.text('x')
    })
    const res = await app.request('/x')
    expect(ran).toBe(false)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(res.headers.get('x-before')).toBe('yes')
    expect(await res.json()).toEqual({
      title: 'Bad Request',
      status: 400,
      code: 'VALIDATION',
      detail: 'bad',
      errors: [{ path: 'id', message: 'required' }],
    })
    expect(seen[0]?.status).toBe(400)
  })

  it('exposes per-request values on c.var, typed', async () => {
    const app = new Hono().use(sturdy(provides({ answer: 42 })))
    app.get('/', (c) => c.json({ answer: c.var.answer satisfies number }))
    expect(await (await app.request('/')).json()).toEqual({ answer: 42 })
  })

  it('setLazy(): computes a value on its first read through c.get, c.var or ex.get, once', async () => {
    let reads = 0
    const seen: unknown[] = []
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        ex.setLazy?.('thing', (e) => {
          reads++
          return { path: e.path }
        })
        ex.set('plain', 1)
        await next()
        seen.push(ex.get('thing'))
      }),
    )
    app.get('/a', (c) => {
      const vars = c.var as Record<string, unknown>
      seen.push(vars.thing, c.get('thing' as never), vars.plain)
      return c.text('ok')
    })
    expect((await app.request('/a')).status).toBe(200)
    expect(reads).toBe(1)
    expect(seen).toEqual([{ path: '/a' }, { path: '/a' }, 1, { path: '/a' }])
    expect(seen[0]).toBe(seen[1])
    expect(seen[0]).toBe(seen[3])
  })

  it('setLazy(): never computes a value nobody reads; c.set replaces it; reading c.var computes it', async () => {
    let reads = 0
    const lazy: Middleware = async (ex, next) => {
      ex.setLazy?.('thing', () => ++reads)
      await next()
    }
    const app = new Hono().use(sturdy(lazy))
    // c.get() reads one value; reading c.var copies (so computes) every value.
    app.get('/unread', (c) => c.json({ plain: c.get('answer' as never) ?? null }))
    app.get('/replaced', (c) => {
      c.set('thing' as never, 'mine' as never)
      return c.json({ get: c.get('thing' as never), var: (c.var as Record<string, unknown>).thing })
    })
    app.get('/keys', (c) => c.json(Object.keys(c.var)))
    expect(await (await app.request('/unread')).json()).toEqual({ plain: null })
    expect(await (await app.request('/replaced')).json()).toEqual({ get: 'mine', var: 'mine' })
    expect(reads).toBe(0)
    expect(await (await app.request('/keys')).json()).toEqual(['thing'])
    expect(reads).toBe(1)
  })

  it('shares one Exchange across several sturdy() mounts', async () => {
    const exchanges: Exchange[] = []
    const grab: Middleware = async (ex, next) => {
      exchanges.push(ex)
      await next()
    }
    const app = new Hono()
    app.use(sturdy(grab))
    app.use(sturdy(grab))
    app.get('/', (c) => c.text('ok'))
    await app.request('/')
    expect(exchanges).toHaveLength(2)
    expect(exchanges[0]).toBe(exchanges[1])
  })

  it('exchangeOf(c) gives Hono glue the same Exchange, and undefined outside a mount', async () => {
    const seen: Exchange[] = []
    const app = new Hono()
    app.get('/bare', (c) => c.json({ found: exchangeOf(c) !== undefined }))
    app.use(
      sturdy(async (ex, next) => {
        seen.push(ex)
        await next()
      }),
    )
    app.get('/', (c) => c.json({ same: exchangeOf(c) === seen[0] }))
    expect(await (await app.request('/')).json()).toEqual({ same: true })
    expect(await (await app.request('/bare')).json()).toEqual({ found: false })
  })

  it('aborts the request signal when the client disconnects, with a ClientClosedError reason', async () => {
    const client = new AbortController()
    let reason: unknown
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        ex.signal.addEventListener('abort', () => {
          reason = ex.signal.reason
        })
        client.abort()
        await next()
      }),
    )
    app.get('/', (c) => c.text('ok'))
    await app.request('/', { signal: client.signal })
    expect(reason).toBeInstanceOf(ClientClosedError)
  })

  it('reports a client disconnect in ex.aborted without anyone creating the signal', async () => {
    const client = new AbortController()
    let aborted: boolean | undefined
    let reason: unknown
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        await next()
        aborted = ex.aborted
        reason = ex.signal.reason
      }),
    )
    app.get('/', (c) => {
      client.abort()
      return c.text('ok')
    })
    await app.request('/', { signal: client.signal })
    expect(aborted).toBe(true)
    expect(reason).toBeInstanceOf(ClientClosedError)
  })

  it('abort() before the signal is read still yields an aborted signal with that reason', async () => {
    const why = new Error('why')
    let signal: AbortSignal | undefined
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        expect(ex.aborted).toBe(false)
        ex.abort(why)
        ex.abort(new Error('ignored'))
        expect(ex.aborted).toBe(true)
        signal = ex.signal
        await next()
      }),
    )
    app.get('/', (c) => c.text('ok'))
    await app.request('/')
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBe(why)
  })

  it("a middleware that throws synchronously reaches Hono's onError, as a rejection would", async () => {
    const seen: unknown[] = []
    const app = new Hono()
    app.onError((err, c) => {
      seen.push(err)
      return c.text('handled', 500)
    })
    app.use(
      sturdy(((_ex: Exchange) => {
        throw new Error('sync throw')
      }) as Middleware),
    )
    app.get('/', (c) => c.text('ok'))
    const res = await app.request('/')
    expect(res.status).toBe(500)
    expect(await res.text()).toBe('handled')
    expect((seen[0] as Error).message).toBe('sync throw')
  })

  it('called directly, the mount rejects for a synchronous throw instead of throwing', async () => {
    const mount = sturdy(((_ex: Exchange) => {
      throw new Error('sync throw')
    }) as Middleware)
    const c = new Context(new Request('http://localhost/'))
    let result: Promise<unknown> | undefined
    expect(() => {
      result = mount(c as never, async () => {}) as Promise<unknown>
    }).not.toThrow()
    await expect(result).rejects.toThrow('sync throw')
  })

  it('rejects a second next() call from one middleware', async () => {
    let second: unknown
    const app = new Hono()
    app.use(
      sturdy(async (_ex, next) => {
        await next()
        second = await next().catch((e: unknown) => e)
      }),
    )
    app.get('/', (c) => c.text('ok'))
    await app.request('/')
    expect((second as Error).message).toMatch(/more than once/)
  })

  it('a middleware that answers by itself (a 401 from app.use) reports its own pattern, not __unmatched__', async () => {
    const seen: Seen[] = []
    const app = new Hono()
    app.use(sturdy(recorder(seen)))
    app.use('/admin/*', async (c, _next) => c.text('who are you', 401))
    app.get('/admin/users', (c) => c.text('secret'))
    const res = await app.request('/admin/users')
    expect(res.status).toBe(401)
    expect(seen.map((s) => [s.route, s.status])).toEqual([['/admin/*', 401]])
  })

  it('leaves the request signal alone after a normal response, on a real @hono/node-server', async () => {
    const signals: AbortSignal[] = []
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        signals.push(ex.signal)
        await next()
      }),
    )
    app.get('/', (c) => c.text('ok'))
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    try {
      const { port } = server.address() as AddressInfo
      for (let i = 0; i < 3; i++) {
        // A fresh connection each time, closed after the answer: the response's `close`
        // follows its `finish`, which is not a disconnect.
        const res = await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } })
        expect(await res.text()).toBe('ok')
      }
      await new Promise((resolve) => setTimeout(resolve, 30))
      expect(signals).toHaveLength(3)
      expect(signals.map((s) => s.aborted)).toEqual([false, false, false])
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
      })
    }
  })

  it('on a real @hono/node-server: reads request headers as node:http does, sends set headers, a handler value wins', async () => {
    const seen: (string | undefined)[][] = []
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        seen.push([ex.header('X-Test'), ex.header('x-multi'), ex.host])
        ex.setHeader('x-request-id', 'from-middleware')
        ex.setHeader('x-other', 'kept')
        await next()
      }),
    )
    app.get('/json', (c) => c.json({ ok: true }))
    app.get('/own', (c) => {
      c.header('x-request-id', 'from-handler')
      return c.text('own')
    })
    app.get('/raw', () => new Response('raw', { headers: { 'x-request-id': 'from-response' } }))
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    try {
      const { port } = server.address() as AddressInfo
      const get = async (path: string) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          headers: [
            ['x-test', 'a'],
            ['x-multi', '1'],
            ['x-multi', '2'],
          ],
        })
        await res.arrayBuffer()
        return [res.status, res.headers.get('x-request-id'), res.headers.get('x-other')]
      }
      expect(await get('/json')).toEqual([200, 'from-middleware', 'kept'])
      expect(await get('/own')).toEqual([200, 'from-handler', 'kept'])
      expect(await get('/raw')).toEqual([200, 'from-response', 'kept'])
      expect(seen[0]).toEqual(['a', '1, 2', `127.0.0.1:${port}`])
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
      })
    }
  })

  it('on a real @hono/node-server: reports the Content-Length node-server sends, without making the response a full one', async () => {
    const sizes: (number | undefined)[] = []
    const lightweight: boolean[] = []
    const app = new Hono()
    app.use(async (c, next) => {
      await next()
      // node-server's own mark of a response still on its lightweight path
      lightweight.push(Object.getOwnPropertySymbols(c.res).some((s) => s.description === 'cache'))
    })
    app.use(
      sturdy(async (ex, next) => {
        await next()
        sizes.push(ex.responseSize)
      }),
    )
    app.get('/json', (c) => c.json({ ok: true }))
    app.get('/text', (c) => {
      c.header('x-own', 'yes')
      return c.text('héllo')
    })
    app.get('/declared', (c) => c.body('hello', 200, { 'Content-Length': '5' }))
    app.get('/bytes', () => new Response(new Uint8Array(7)))
    app.get('/stream', () => new Response(new Blob(['abc']).stream()))
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    try {
      const { port } = server.address() as AddressInfo
      const sent: (string | null)[] = []
      for (const path of ['/json', '/text', '/declared', '/bytes', '/stream']) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`)
        await res.arrayBuffer()
        sent.push(res.headers.get('content-length'))
      }
      expect(sizes).toEqual([11, 6, 5, 7, undefined])
      expect(lightweight).toEqual([true, true, true, true, true])
      expect(sent).toEqual(['11', '6', '5', '7', null])
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
      })
    }
  })

  it('respond() with shared, frozen headers answers over @hono/node-server, and leaves them as they were', async () => {
    // @hono/node-server writes Content-Length into a plain headers object it is handed:
    // a pre-rendered answer (a shed 503, an open circuit) must not be that object.
    const headers = Object.freeze({
      'content-type': 'application/problem+json',
      'retry-after': '1',
    })
    const shared: Record<string, string> = { 'content-type': 'text/plain' }
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        if (ex.path === '/frozen') ex.respond(503, '{"status":503}', headers)
        else if (ex.path === '/shared') ex.respond(200, 'ok', shared)
        else await next()
      }),
    )
    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    try {
      const { port } = server.address() as AddressInfo
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/frozen`)
        expect([res.status, res.headers.get('retry-after'), await res.text()]).toEqual([
          503,
          '1',
          '{"status":503}',
        ])
        const ok = await fetch(`http://127.0.0.1:${port}/shared`)
        expect([ok.status, await ok.text()]).toEqual([200, 'ok'])
      }
      expect(shared).toEqual({ 'content-type': 'text/plain' })
    } finally {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        ;(server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
      })
    }
  })

  it('leaves the request signal alone after a normal response, through app.request()', async () => {
    let signal: AbortSignal | undefined
    const app = new Hono()
    app.use(
      sturdy(async (ex, next) => {
        signal = ex.signal
        await next()
      }),
    )
    app.get('/', (c) => c.text('ok'))
    expect(await (await app.request('/')).text()).toBe('ok')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(signal?.aborted).toBe(false)
  })
})
