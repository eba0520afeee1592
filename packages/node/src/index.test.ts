// node:http-specific behaviour: route templates, error answers, value access. What every
// adapter must do alike is proven in packages/conformance.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer, request as httpRequest } from 'node:http'
import type { Exchange, Middleware } from '@sturdy/core'
import { OVERFLOW_ROUTE, UNMATCHED_ROUTE, ValidationError } from '@sturdy/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Listener, SturdyNodeOptions } from './index.ts'
import { exchangeOf, setRoute, sturdy, valuesOf } from './index.ts'

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

async function serve(listener: Listener, options: SturdyNodeOptions): Promise<string> {
  const server = createServer(sturdy(listener, options))
  open.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

function record(into: Array<Record<string, unknown>>): Middleware {
  return async function recordExchange(ex: Exchange, next) {
    await next()
    into.push({ route: ex.route(), status: ex.status, error: ex.error, size: ex.responseSize })
  }
}

const ok = (_req: IncomingMessage, res: ServerResponse): void => {
  res.setHeader('content-length', '2')
  res.end('ok')
}

describe('sturdy() around a node:http listener', () => {
  it('takes the route from setRoute(), else the route option, else UNMATCHED_ROUTE', async () => {
    const seen: Array<Record<string, unknown>> = []
    const url = await serve(
      (req, res) => {
        if (req.url === '/set/1') setRoute(req, '/set/:id')
        ok(req, res)
      },
      {
        middleware: [record(seen)],
        route: (req) => (req.url?.startsWith('/opt/') ? '/opt/:id' : undefined),
      },
    )
    for (const path of ['/set/1', '/opt/2', '/raw/3']) await (await fetch(url + path)).text()
    expect(seen.map((s) => [s.route, s.status, s.size])).toEqual([
      ['/set/:id', 200, 2],
      ['/opt/:id', 200, 2],
      [UNMATCHED_ROUTE, 200, 2],
    ])
  })

  it('bounds whatever the route option reports: raw paths past 1000 routes, or too long, are __other__', async () => {
    const seen: Array<Record<string, unknown>> = []
    const url = await serve(ok, {
      middleware: [record(seen)],
      // The mistake the bound exists for: the raw path as the route.
      route: (req) => req.url,
    })
    // 1000 distinct routes fill the bound (in batches: the order within one does not matter).
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          await (await fetch(`${url}/u/${batch * 100 + i}`)).text()
        }),
      )
    }
    for (const path of ['/u/1000', '/u/0', `/${'x'.repeat(300)}`]) {
      await (await fetch(url + path)).text()
    }
    const routes = seen.map((s) => s.route)
    expect(new Set(routes.slice(0, 1000)).size).toBe(1000)
    expect(routes.slice(1000)).toEqual([OVERFLOW_ROUTE, '/u/0', OVERFLOW_ROUTE])
  }, 30_000)

  it('answers listener errors with problem+json by default, keeping a Sturdy status', async () => {
    const seen: Array<Record<string, unknown>> = []
    const invalid = new ValidationError('bad id')
    const url = await serve(
      async () => {
        throw invalid
      },
      { middleware: [record(seen)] },
    )
    const res = await fetch(url)
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toEqual({
      title: 'Bad Request',
      status: 400,
      code: 'VALIDATION',
      detail: 'bad id',
    })
    expect(seen).toEqual([{ route: UNMATCHED_ROUTE, status: 400, error: invalid, size: undefined }])
  })

  it('lets onError answer instead', async () => {
    const boom = new Error('boom')
    const errors: unknown[] = []
    const url = await serve(
      () => {
        throw boom
      },
      {
        onError: (error, _req, res) => {
          errors.push(error)
          res.statusCode = 502
          res.end('upstream trouble')
        },
      },
    )
    const res = await fetch(url)
    expect([res.status, await res.text()]).toEqual([502, 'upstream trouble'])
    expect(errors).toEqual([boom])
  })

  it('cuts the connection when the listener fails after starting the response', async () => {
    const url = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('partial')
      await new Promise((resolve) => setImmediate(resolve))
      throw new Error('mid-stream')
    }, {})
    // A truncated chunked body must reach the client as an error, not as a whole body.
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest(url, (res) => {
        res.on('data', () => {})
        res.on('end', () => resolve('complete'))
        res.on('error', () => resolve('cut'))
        res.on('aborted', () => resolve('cut'))
      })
      req.on('error', () => resolve('cut'))
      req.end()
    })
    expect(outcome).toBe('cut')
  })

  it('exposes the values middleware shared through valuesOf(req), and exchangeOf(req)', async () => {
    const provide: Middleware = async function provide(ex, next) {
      ex.set('answer', 42)
      await next()
    }
    let same = false
    const url = await serve(
      (req, res) => {
        same = exchangeOf(req)?.get('answer') === 42
        res.end(JSON.stringify(valuesOf<{ answer: number }>(req)))
      },
      { middleware: [provide] },
    )
    expect(await (await fetch(url)).json()).toEqual({ answer: 42 })
    expect(same).toBe(true)
  })

  it('valuesOf() outside a sturdy() listener is an empty record', () => {
    expect(valuesOf({} as IncomingMessage)).toEqual({})
    expect(exchangeOf({} as IncomingMessage)).toBeUndefined()
  })

  it('a middleware failing before next() never runs the listener and answers 500', async () => {
    let ran = false
    const url = await serve(
      (_req, res) => {
        ran = true
        res.end()
      },
      {
        middleware: [
          async () => {
            throw new Error('refused')
          },
        ],
      },
    )
    const res = await fetch(url)
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ title: 'Internal Server Error', status: 500 })
    expect(ran).toBe(false)
  })

  it('after the listener answered, setHeader() and respond() are ignored but noted', async () => {
    const seen: Array<[boolean, number, string | undefined]> = []
    const late: Middleware = async function late(ex, next) {
      await next()
      ex.setHeader('x-late', '1')
      ex.respond(503, 'too late')
      seen.push([ex.responded, ex.status, ex.header('x-multi')])
    }
    const url = await serve(
      (_req, res) => {
        res.end('first')
      },
      { middleware: [late] },
    )
    const res = await new Promise<{ status: number; late: string | undefined }>((resolve) => {
      const req = httpRequest(url, { headers: { 'x-multi': ['a', 'b'] } }, (r) => {
        r.resume()
        r.on('end', () =>
          resolve({ status: r.statusCode ?? 0, late: r.headers['x-late'] as string | undefined }),
        )
      })
      req.end()
    })
    expect(res).toEqual({ status: 200, late: undefined })
    expect(seen).toEqual([[true, 200, 'a, b']])
  })

  it('after Sturdy answered, every write of the listener is dropped: nothing throws, callbacks run', async () => {
    const outcome: unknown[] = []
    let finished!: () => void
    const done = new Promise<void>((resolve) => {
      finished = resolve
    })
    const answerFirst: Middleware = async function answerFirst(ex, next) {
      ex.respond(503, 'busy', { 'content-type': 'text/plain' })
      await next()
    }
    const listener = (_req: IncomingMessage, res: ServerResponse): void => {
      res.on('error', (e) => outcome.push(e))
      // Callback style: the writes come from a timer, where a throw would be uncaught.
      setImmediate(() => {
        try {
          res.statusCode = 200
          res.setHeader('x-late', '1')
          res.writeHead(200, { 'x-later': '1' })
          outcome.push(res.write('late', () => outcome.push('write callback')))
          res.end('later', () => {
            outcome.push('end callback')
            finished()
          })
        } catch (error) {
          outcome.push(error)
          finished()
        }
      })
    }
    const url = await serve(listener, { middleware: [answerFirst] })
    const res = await fetch(url)
    expect([res.status, res.headers.get('x-late'), await res.text()]).toEqual([503, null, 'busy'])
    await done
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(outcome).toEqual([true, 'write callback', 'end callback'])
  })

  it('the default onError logs server errors to console.error without a request logger, never client errors', async () => {
    const withLog: Middleware = async function withLog(ex, next) {
      // What @sturdy/logger shares; its access line carries the error itself.
      if (ex.header('x-log') === 'yes') ex.set('log', { error: () => {} })
      await next()
    }
    const boom = new Error('db password=hunter2')
    const url = await serve(
      (req) => {
        if (req.url === '/bad') throw new ValidationError('bad id')
        throw boom
      },
      { middleware: [withLog] },
    )
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const viaConsole = await fetch(`${url}/y`)
      expect(viaConsole.status).toBe(500)
      expect(await viaConsole.text()).not.toContain('hunter2')
      expect(consoleError).toHaveBeenCalledTimes(1)
      expect(consoleError.mock.calls[0]?.[1]).toBe(boom)
      const withLogger = await fetch(`${url}/x`, { headers: { 'x-log': 'yes' } })
      await withLogger.arrayBuffer()
      const client = await fetch(`${url}/bad`)
      expect(client.status).toBe(400)
      await client.arrayBuffer()
      expect(consoleError).toHaveBeenCalledTimes(1)
    } finally {
      consoleError.mockRestore()
    }
  })

  it('route() asked before the listener routed answers for that moment, and still knows the route after', async () => {
    const seen: string[] = []
    const url = await serve(
      (req, res) => {
        setRoute(req, '/set/:id')
        ok(req, res)
      },
      {
        middleware: [
          async function early(ex, next) {
            seen.push(ex.route())
            await next()
            seen.push(ex.route(), ex.route())
          },
        ],
      },
    )
    await (await fetch(`${url}/set/1`)).text()
    expect(seen).toEqual([UNMATCHED_ROUTE, '/set/:id', '/set/:id'])
  })
})
