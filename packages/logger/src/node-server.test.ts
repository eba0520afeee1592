import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { exchangeFor, sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it, vi } from 'vitest'
import { requestLogger } from './index.ts'
import { capture, sequentialIds } from './testing.ts'

describe('on a real @hono/node-server (127.0.0.1)', () => {
  it('a client that hangs up mid-request is logged as an abort, the id header still echoed', async () => {
    const out = capture()
    let started!: () => void
    const handlerStarted = new Promise<void>((resolve) => {
      started = resolve
    })
    const app = new Hono().use(
      sturdy(requestLogger({ logger: out.logger, generateRequestId: sequentialIds() })),
    )
    app.get('/slow', async (c) => {
      const signal = exchangeFor(c).signal
      started()
      // Work that honours cancellation: it ends when the client goes away.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
      return c.text('too late')
    })
    app.get('/fast', (c) => c.text('ok'))

    const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 })
    await new Promise<void>((resolve) => server.once('listening', () => resolve()))
    const { port } = server.address() as AddressInfo
    try {
      const fast = await new Promise<{ status?: number; id?: string | string[] }>((resolve) => {
        request({ host: '127.0.0.1', port, path: '/fast' }, (res) => {
          res.resume()
          res.on('end', () => resolve({ status: res.statusCode, id: res.headers['x-request-id'] }))
        }).end()
      })
      expect(fast).toEqual({ status: 200, id: 'id-1' })

      const req = request({ host: '127.0.0.1', port, path: '/slow' })
      req.on('error', () => {}) // the hang-up below
      req.end()
      await handlerStarted
      req.destroy()
      await vi.waitFor(() => expect(out.raw).toHaveLength(2), { timeout: 2000, interval: 5 })
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
    const [fastLine, slowLine] = out.lines()
    expect(fastLine).toMatchObject({ req_id: 'id-1', status: 200, level: 30 })
    expect(slowLine).toMatchObject({
      req_id: 'id-2',
      route: '/slow',
      status: 499,
      abort: 'client-disconnect',
      level: 40,
      msg: 'request aborted',
    })
  })
})
