// Express-specific behaviour. What every adapter must do alike (Exchange fields, errors,
// disconnects, async context, the feature packages) is proven in packages/conformance.
import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { Exchange, Middleware } from '@sturdy/core'
import { UNMATCHED_ROUTE } from '@sturdy/core'
import type { ErrorRequestHandler, Express } from 'express'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { asyncHandler, exchangeOf, sturdy, sturdyErrors } from './index.ts'

const open: Server[] = []
afterEach(async () => {
  await Promise.all(
    open.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        }),
    ),
  )
})

async function serve(app: Express): Promise<string> {
  const server = createServer(app)
  open.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: string }> {
  const res = await fetch(url, init)
  return { status: res.status, body: await res.text() }
}

function grab(into: Exchange[]): Middleware {
  return async function grabExchange(ex, next) {
    into.push(ex)
    await next()
  }
}

describe('sturdy() on Express', () => {
  it('shares one Exchange across mounts, and values through res.locals both ways', async () => {
    const seen: Exchange[] = []
    const app = express()
    app.use(
      sturdy(grab(seen), async (ex, next) => {
        ex.set('answer', 42)
        await next()
      }),
    )
    app.use((_req, res, next) => {
      res.locals.fromExpress = 'hi'
      next()
    })
    app.use(sturdy(grab(seen)))
    app.get('/', (_req, res) => {
      res.json({ answer: res.locals.answer })
    })
    const url = await serve(app)
    expect(await get(url)).toEqual({ status: 200, body: '{"answer":42}' })
    expect(seen).toHaveLength(2)
    expect(seen[0]).toBe(seen[1])
    expect(seen[0]?.get('fromExpress')).toBe('hi')
  })

  it('reads the full path and route under a mount path, with router roots and regex routes', async () => {
    const routes: Array<[string, string]> = []
    const record: Middleware = async function record(ex, next) {
      await next()
      routes.push([ex.path, ex.route()])
    }
    const api = express.Router()
    api.get('/', (_req, res) => {
      res.send('root')
    })
    api.get(/^\/files\/.+$/, (_req, res) => {
      res.send('file')
    })
    const app = express()
    app.use('/api', sturdy(record), api)
    const url = await serve(app)
    await get(`${url}/api`)
    await get(`${url}/api/files/a.txt?download=1`)
    await get(`${url}/api/nothing`)
    expect(routes).toEqual([
      ['/api', '/api'],
      ['/api/files/a.txt', '/api/^\\/files\\/.+$/'],
      ['/api/nothing', UNMATCHED_ROUTE],
    ])
  })

  it('keeps the sub-router template when an error leaves the sub-router', async () => {
    let route: string | undefined
    const orders = express.Router()
    orders.get('/:id', () => {
      throw new Error('boom')
    })
    const app = express()
    app.use(
      sturdy(async (ex, next) => {
        await next()
        route = ex.route()
      }),
    )
    app.use('/orders', orders)
    app.use(sturdyErrors())
    app.use(((_err, req, res, _next) => {
      // Express itself has restored the parent's base by now.
      res.status(500).json({ baseUrl: req.baseUrl, routePath: req.route?.path })
    }) as ErrorRequestHandler)
    const url = await serve(app)
    expect(await get(`${url}/orders/1`)).toEqual({
      status: 500,
      body: '{"baseUrl":"","routePath":"/:id"}',
    })
    expect(route).toBe('/orders/:id')
  })

  it('hands an error thrown before next() to the app error handlers', async () => {
    const boom = new Error('not allowed')
    const app = express()
    app.use(
      sturdy(async () => {
        throw boom
      }),
    )
    app.get('/', (_req, res) => {
      res.send('never')
    })
    app.use(((err, _req, res, _next) => {
      res.status(418).send(err === boom ? 'caught' : 'other')
    }) as ErrorRequestHandler)
    const url = await serve(app)
    expect(await get(url)).toEqual({ status: 418, body: 'caught' })
  })

  it('answers problem+json when a middleware fails after next() before the handler answered', async () => {
    let release!: () => void
    const late = new Promise<void>((resolve) => {
      release = resolve
    })
    const reached: string[] = []
    let ex: Exchange | undefined
    const app = express()
    app.use(
      sturdy(async (exchange, next) => {
        ex = exchange
        void next()
        await Promise.resolve()
        throw new Error('gave up')
      }),
    )
    app.get('/', async (_req, res) => {
      await late
      res.send('too late') // throws: headers already sent
    })
    app.use(sturdyErrors())
    app.use(((err: Error, _req, _res, next) => {
      reached.push(err.message)
      next(err)
    }) as ErrorRequestHandler)
    const url = await serve(app)
    const res = await fetch(url)
    expect(res.status).toBe(500)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toEqual({ title: 'Internal Server Error', status: 500 })
    expect(ex?.error).toEqual(new Error('gave up'))
    expect(ex?.responded).toBe(true)
    release()
    await new Promise((resolve) => setTimeout(resolve, 20))
    // The handler's failed write was recorded-and-dropped by sturdyErrors().
    expect(reached).toEqual([])
  })

  it.each([
    [false, []],
    [true, ['late']],
  ])(
    'passOnAfterRespond %s: a handler error after Sturdy answered reaches the app handlers: %j',
    async (passOnAfterRespond, expected) => {
      const reached: string[] = []
      let release!: () => void
      const late = new Promise<void>((resolve) => {
        release = resolve
      })
      let recorded: unknown
      const app = express()
      app.use(
        sturdy(async (ex, next) => {
          const rest = next()
          ex.respond(503, 'busy')
          await rest
          recorded = () => ex.error
        }),
      )
      app.get('/', async () => {
        await late
        throw new Error('late')
      })
      app.use(sturdyErrors({ passOnAfterRespond }))
      app.use(((err: Error, _req, _res, _next) => {
        reached.push(err.message)
      }) as ErrorRequestHandler)
      const url = await serve(app)
      expect(await get(url)).toEqual({ status: 503, body: 'busy' })
      release()
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(reached).toEqual(expected)
      expect(((recorded as () => unknown)() as Error).message).toBe('late')
    },
  )

  it('reports a client that went away as aborted, even when nobody read the signal', async () => {
    let seen: Exchange | undefined
    let settled!: () => void
    const unwound = new Promise<void>((resolve) => {
      settled = resolve
    })
    const app = express()
    app.use(
      sturdy(async (ex, next) => {
        seen = ex
        await next()
        settled()
      }),
    )
    let reached!: () => void
    const arrived = new Promise<void>((resolve) => {
      reached = resolve
    })
    app.get('/hang', () => {
      reached() // and never answers
    })
    const url = await serve(app)
    const client = new AbortController()
    const pending = fetch(`${url}/hang`, { signal: client.signal }).catch(() => 'aborted')
    await arrived
    client.abort()
    expect(await pending).toBe('aborted')
    await unwound
    expect(seen?.aborted).toBe(true)
    expect(seen?.route()).toBe('/hang')
  })

  it('exchangeOf(req) gives Express glue the same Exchange the middleware see', async () => {
    const seen: Exchange[] = []
    const app = express()
    app.use(sturdy(grab(seen)))
    app.get('/', (req, res) => {
      res.json({ same: exchangeOf(req) === seen[0] })
    })
    const url = await serve(app)
    expect(await get(url)).toEqual({ status: 200, body: '{"same":true}' })
  })

  it('asyncHandler() hands a rejection to the error handlers once, and passes sync results through', async () => {
    const reached: unknown[] = []
    const boom = new Error('later')
    const app = express()
    app.get(
      '/reject',
      asyncHandler(async () => {
        await Promise.resolve()
        throw boom
      }),
    )
    app.get(
      '/ok',
      asyncHandler((_req, res) => {
        res.send('fine')
      }),
    )
    app.use(((err, _req, res, _next) => {
      reached.push(err)
      res.status(502).send('handled')
    }) as ErrorRequestHandler)
    const url = await serve(app)
    expect(await get(`${url}/reject`)).toEqual({ status: 502, body: 'handled' })
    expect(await get(`${url}/ok`)).toEqual({ status: 200, body: 'fine' })
    expect(reached).toEqual([boom])
  })

  it('route() asked before next() answers for that moment, and still knows the route after', async () => {
    const seen: string[] = []
    const app = express()
    app.use(
      sturdy(async (ex, next) => {
        seen.push(ex.route())
        await next()
        seen.push(ex.route(), ex.route())
      }),
    )
    app.get('/users/:id', (_req, res) => {
      res.send('x')
    })
    const url = await serve(app)
    await get(`${url}/users/1`)
    expect(seen).toEqual([UNMATCHED_ROUTE, '/users/:id', '/users/:id'])
  })

  it('a Sturdy middleware that answers by itself is the answer: no next(error) to the app', async () => {
    const reached: unknown[] = []
    const app = express()
    app.use(
      sturdy(async (ex) => {
        ex.respond(503, 'busy', { 'content-type': 'text/plain' })
      }),
    )
    app.get('/', (_req, res) => {
      res.send('never')
    })
    app.use(((err, _req, _res, next) => {
      reached.push(err)
      next(err)
    }) as ErrorRequestHandler)
    const url = await serve(app)
    expect(await get(url)).toEqual({ status: 503, body: 'busy' })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(reached).toEqual([])
  })
})
