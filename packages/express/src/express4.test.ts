// Express 4 ignores the promise a handler returns: what the adapter does about it.
import type { Server } from 'node:http'
import { createServer } from 'node:http'
import type { Exchange, Middleware } from '@sturdy/core'
import type { ErrorRequestHandler, Express, Request, Response } from 'express'
import express5 from 'express'
import express4 from 'express4'
import { afterEach, describe, expect, it } from 'vitest'
import { sturdy, sturdyErrors } from './index.ts'

const open: Server[] = []
const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
process.on('unhandledRejection', onUnhandled)
afterEach(async () => {
  unhandled.length = 0
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

/** Lets unhandled-rejection tracking (after the microtask queue) and late writes happen. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30))

/** Rejects with the signal's reason when it aborts, like `fetch(url, { signal })`. */
function upstream(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/**
 * What `deadline()` does when its budget runs out while the handler waits: answers 504,
 * then aborts the request signal (here as soon as the handler has started waiting).
 */
function deadlineOnceWaiting(handlerWaiting: Promise<void>, seen: Exchange[]): Middleware {
  return async function expireDeadline(ex, next) {
    seen.push(ex)
    ex.set('signal', ex.signal)
    const rest = next()
    await handlerWaiting
    ex.respond(504, 'deadline', { 'content-type': 'text/plain' })
    ex.abort(new Error('Deadline exceeded'))
    await rest
  }
}

describe('Express 4', () => {
  it('an async route handler rejecting after the deadline answered reaches sturdyErrors(), not the process', async () => {
    let waiting!: () => void
    const handlerWaiting = new Promise<void>((resolve) => {
      waiting = resolve
    })
    const seen: Exchange[] = []
    const app = express4()
    app.use(sturdy(deadlineOnceWaiting(handlerWaiting, seen)))
    // The README's handler, unwrapped: no asyncHandler().
    app.get('/orders/:id', async (_req: Request, res: Response) => {
      const pending = upstream(res.locals.signal as AbortSignal)
      waiting()
      res.json(await pending)
    })
    app.use(sturdyErrors())
    const url = await serve(app)

    const res = await fetch(`${url}/orders/1`)
    expect(res.status).toBe(504)
    expect(await res.text()).toBe('deadline')
    await settle()
    expect(unhandled).toEqual([])
    expect(seen[0]?.error).toEqual(new Error('Deadline exceeded'))
  })

  it('an async route handler rejecting before anything was sent goes to the app error handlers', async () => {
    const boom = new Error('boom')
    const reached: unknown[] = []
    const app = express4()
    app.use(sturdy())
    const orders = express4.Router()
    orders.get('/:id', async () => {
      await Promise.resolve()
      throw boom
    })
    app.use('/orders', orders)
    app.use(sturdyErrors())
    app.use(((err, _req, res, _next) => {
      reached.push(err)
      res.status(502).send('handled')
    }) as ErrorRequestHandler)
    const url = await serve(app)

    const res = await fetch(`${url}/orders/1`)
    expect({ status: res.status, body: await res.text() }).toEqual({
      status: 502,
      body: 'handled',
    })
    await settle()
    expect(reached).toEqual([boom])
    expect(unhandled).toEqual([])
  })

  it('leaves route error handlers (four parameters) and sync handlers working, request after request', async () => {
    const app = express4()
    app.use(sturdy())
    app.get(
      '/chain',
      (_req: Request, _res: Response, next: (error?: unknown) => void) => next(new Error('first')),
      ((err: Error, _req, res, _next) => {
        res.status(409).send(err.message)
      }) as ErrorRequestHandler,
    )
    const url = await serve(app)
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${url}/chain`)
      expect({ status: res.status, body: await res.text() }).toEqual({
        status: 409,
        body: 'first',
      })
    }
  })
})

describe('Express 5', () => {
  it('route handlers are left as written (Express 5 forwards rejections itself)', async () => {
    const app = express5()
    app.use(sturdy())
    const handler = async (_req: Request, res: Response): Promise<void> => {
      res.send('ok')
    }
    app.get('/', handler)
    const url = await serve(app)
    expect(await (await fetch(url)).text()).toBe('ok')
    // The route's only layer still calls the handler itself.
    const router = (
      app as unknown as { router: { stack: { route?: { stack: { handle: unknown }[] } }[] } }
    ).router
    const layer = router.stack.find((l) => l.route !== undefined)?.route?.stack[0]
    expect(layer?.handle).toBe(handler)
  })
})
