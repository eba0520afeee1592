/** The per-origin keep-alive pool: reuse, limits, saturation, and sockets freed on abort. */
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, isPoolSaturatedError } from './index.ts'
import type { TestServer } from './testing.ts'
import { delay, json, startServer } from './testing.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler)
  cleanup.push(() => s.close())
  return s
}

function client(options: Parameters<typeof createClient>[0] = {}) {
  const c = createClient(options)
  cleanup.push(() => c.close())
  return c
}

describe('pooling', () => {
  it('reuses sockets: 1,000 calls, 10 at a time, over at most 10 connections', async () => {
    const s = await server((req, res) => json(res, 200, { n: req.url }))
    const c = client({ baseUrl: s.url, connections: 10 })
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < 1000) {
        const n = next++
        expect(await c.json(`/items/${n}`)).toEqual({ n: `/items/${n}` })
      }
    }
    await Promise.all(Array.from({ length: 10 }, worker))
    expect(s.requests()).toBe(1000)
    expect(s.connections()).toBeGreaterThan(0)
    expect(s.connections()).toBeLessThanOrEqual(10)
  }, 60_000)

  it('fetch bodies read to the end give their socket back too', async () => {
    const s = await server((_req, res) => json(res, 200, { ok: true }))
    const c = client({ connections: 2 })
    for (let i = 0; i < 200; i++)
      expect(await (await c.fetch(`${s.url}/`)).json()).toEqual({ ok: true })
    // undici waits a tick before reusing a socket, so a call made right after the first
    // may open the second connection; never more.
    expect(s.connections()).toBeLessThanOrEqual(2)
  }, 30_000)

  it('saturation: calls beyond connections + maxQueued fail at once, queued ones complete', async () => {
    const release: Array<() => void> = []
    const s = await server((_req, res) => {
      release.push(() => json(res, 200, { ok: true }))
    })
    const c = client({ baseUrl: s.url, connections: 2, maxQueued: 3, retry: false })
    const calls = Array.from({ length: 5 }, () => c.json('/'))
    const started = performance.now()
    const refused = await c.json('/').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isPoolSaturatedError(refused)).toBe(true)
    expect((refused as { status: number }).status).toBe(503)
    expect(performance.now() - started).toBeLessThan(500)
    // Queued calls go out as connections free up.
    for (let i = 0; i < 200 && s.requests() < 5; i++) {
      for (const r of release.splice(0)) r()
      await delay(10)
    }
    for (const r of release.splice(0)) r()
    expect(await Promise.all(calls)).toEqual(Array(5).fill({ ok: true }))
    expect(s.connections()).toBe(2)
    expect(c.stats(s.origin)).toMatchObject({ pending: 0, running: 0 })
  })

  it('a call aborted while queued does not cost the pool its idle connection', async () => {
    let release: (() => void) | undefined
    const s = await server((req, res) => {
      if (req.url === '/slow') release = () => json(res, 200, { slow: true })
      else json(res, 200, { ok: true })
    })
    const c = client({ baseUrl: s.url, connections: 1, retry: false })
    const slow = c.json('/slow')
    for (let i = 0; i < 100 && release === undefined; i++) await delay(5)
    const controller = new AbortController()
    const queued = c.json('/', { signal: controller.signal })
    controller.abort(new Error('caller gave up'))
    await expect(queued).rejects.toThrow('caller gave up')
    release?.()
    expect(await slow).toEqual({ slow: true })
    expect(await c.json('/')).toEqual({ ok: true })
    expect(s.connections()).toBe(1)
  })

  it('an abort in the middle of a response body releases the socket', async () => {
    const closed: Array<Promise<void>> = []
    const s = await server((req, res) => {
      closed.push(new Promise((resolve) => req.socket.once('close', () => resolve())))
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.write(Buffer.alloc(1024, 1)) // then nothing: the body never ends
    })
    const c = client({ connections: 1 })
    const controller = new AbortController()
    const res = await c.fetch(`${s.url}/`, { signal: controller.signal })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    expect((await reader.read()).value?.byteLength).toBeGreaterThan(0)
    controller.abort(new Error('enough'))
    await expect(reader.read()).rejects.toThrow('enough')
    // The connection carrying the unfinished body is closed (HTTP/1.1 cannot reuse it),
    // and the pool holds no request for it.
    await closed[0]
    expect(c.stats(s.origin)).toMatchObject({ running: 0, pending: 0 })
    // Cancelling the body works the same way.
    const res2 = await c.fetch(`${s.url}/`)
    await res2.body?.cancel()
    await closed[1]
    expect(c.stats(s.origin)).toMatchObject({ running: 0, pending: 0 })
    expect(s.requests()).toBe(2)
  })
})
