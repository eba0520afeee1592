// The load generator itself, against a node:http server on 127.0.0.1: it counts what the
// server answered, reuses its connections, bounds every request, and leaves no socket.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedLoop, openLoop } from '../src/load.ts'

let server: Server
let base: string
let connections = 0

/** Listens on an ephemeral 127.0.0.1 port; resolves to `http://127.0.0.1:<port>`. */
async function listen(s: Server): Promise<string> {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`
}

/** Ends every connection and closes. */
async function close(s: Server): Promise<void> {
  s.closeAllConnections()
  await new Promise((resolve) => s.close(resolve))
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/'
    if (path === '/length') res.end('{"ok":true}')
    else if (path === '/chunked') {
      res.write('a')
      setImmediate(() => {
        res.write('b'.repeat(300))
        res.end('c')
      })
    } else if (path === '/close') {
      res.shouldKeepAlive = false
      res.write('until the end')
      res.end()
    } else if (path === '/empty') res.writeHead(204).end()
    else if (path === '/hang') {
      // never answered
    } else if (path === '/reset') req.socket.destroy()
    else if (path === '/echo') {
      let n = 0
      req.on('data', (c: Buffer) => {
        n += c.length
      })
      req.on('end', () => res.writeHead(201).end(String(n)))
    } else res.writeHead(404).end('no')
  })
  server.on('connection', () => connections++)
  server.keepAliveTimeout = 30_000
  base = await listen(server)
})

afterAll(() => close(server))

const openSockets = () => new Promise<number>((r) => server.getConnections((_, n) => r(n)))

describe('closedLoop', () => {
  it('counts each status, reads every body framing, and reuses its connections', async () => {
    connections = 0
    const paths = ['/length', '/chunked', '/empty', '/nowhere']
    const stats = await closedLoop({
      base,
      concurrency: 4,
      total: 400,
      shot: (i) => ({ path: paths[i % 4]! }),
    })
    expect(stats.sent).toBe(400)
    expect(stats.statuses).toEqual({ 200: 200, 204: 100, 404: 100 })
    expect(stats.errors).toEqual({})
    expect(stats.okAtMs).toHaveLength(300) // 204 is a 2xx
    expect(stats.latenciesMs).toHaveLength(400)
    expect(connections).toBe(4)
    await expect.poll(openSockets).toBe(0)
  })

  it('sends bodies with their length, and reads a body that ends with the connection', async () => {
    connections = 0
    const stats = await closedLoop({
      base,
      concurrency: 2,
      total: 20,
      shot: (i) =>
        i % 2 === 0 ? { method: 'POST', path: '/echo', body: 'é'.repeat(i) } : { path: '/close' },
    })
    expect(stats.statuses).toEqual({ 200: 10, 201: 10 })
    expect(stats.errors).toEqual({})
    // Every /close answer ends its connection: a new one for each.
    expect(connections).toBeGreaterThanOrEqual(10)
  })

  it('counts a reset, an abort and the hard bound, and ends every such request', async () => {
    const stats = await closedLoop({
      base,
      concurrency: 3,
      total: 3,
      hardTimeoutMs: 200,
      shot: (i) => [{ path: '/reset' }, { path: '/hang', abortAfterMs: 20 }, { path: '/hang' }][i]!,
    })
    expect(stats.errors).toEqual({ ECONNRESET: 1, CLIENT_TIMEOUT: 1 })
    expect(stats.aborted).toBe(1)
    expect(stats.statuses).toEqual({})
    await expect.poll(openSockets).toBe(0)
  })

  it('counts a refused connection as such', async () => {
    const closed = createServer()
    const url = await listen(closed)
    await close(closed)
    const stats = await closedLoop({
      base: url,
      concurrency: 1,
      total: 2,
      shot: () => ({ path: '/' }),
    })
    expect(stats.errors).toEqual({ ECONNREFUSED: 2 })
  })
})

describe("the server's keep-alive timeout", () => {
  it('retires a connection idle for nearly as long, as node:http does, instead of racing its close', async () => {
    // Keep-Alive: timeout=1 — a connection idle for 1 s less a 1 s margin is never reused.
    const short = createServer((_req, res) => res.end('ok'))
    short.keepAliveTimeout = 1000
    let opened = 0
    short.on('connection', () => opened++)
    const shortBase = await listen(short)
    try {
      const stats = await closedLoop({
        base: shortBase,
        concurrency: 1,
        total: 5,
        shot: () => ({ path: '/' }),
      })
      expect(stats.statuses).toEqual({ 200: 5 })
      expect(opened).toBe(5)
    } finally {
      await close(short)
    }
  })
})

describe('openLoop', () => {
  it('sends at the rate asked, skips beyond the in-flight bound, and waits for the rest', async () => {
    const stats = await openLoop({
      base,
      ratePerSecond: 200,
      durationMs: 500,
      maxInFlight: 5,
      hardTimeoutMs: 300,
      shot: (i) => ({ path: i <= 5 ? '/hang' : '/length' }),
    })
    // The first five hang until their bound, holding every slot; later arrivals are skipped
    // meanwhile, then served.
    expect(stats.errors).toEqual({ CLIENT_TIMEOUT: 5 })
    expect(stats.skipped).toBeGreaterThan(0)
    expect(stats.statuses[200]).toBeGreaterThan(0)
    expect(stats.sent + stats.skipped).toBeGreaterThanOrEqual(90)
    await expect.poll(openSockets).toBe(0)
  })

  it('sends every arrival of its duration, those due within a tick together', async () => {
    const at: number[] = []
    const track = () => at.push(performance.now())
    server.on('request', track)
    try {
      const stats = await openLoop({
        base,
        ratePerSecond: 1000,
        durationMs: 200,
        tickMs: 50,
        shot: () => ({ path: '/length' }),
      })
      expect(stats.sent).toBe(200)
      expect(stats.statuses).toEqual({ 200: 200 })
    } finally {
      server.off('request', track)
    }
    // Bursts: about 200 / 50 = 4 of them (a late timer merges two, never splits one).
    let bursts = 1
    for (let k = 1; k < at.length; k++) if (at[k]! - at[k - 1]! > 20) bursts++
    expect(bursts).toBeGreaterThanOrEqual(2)
    expect(bursts).toBeLessThanOrEqual(5)
    await expect.poll(openSockets).toBe(0)
  })

  it('opens at most maxConnections; the rest wait for one, bounded and abortable as any', async () => {
    let open = 0
    let most = 0
    const track = (socket: import('node:net').Socket) => {
      most = Math.max(most, ++open)
      socket.on('close', () => open--)
    }
    server.on('connection', track)
    try {
      const stats = await openLoop({
        base,
        ratePerSecond: 200,
        durationMs: 100,
        maxConnections: 1,
        hardTimeoutMs: 200,
        // Every one hangs: each holds the one connection until its bound, the rest wait;
        // the third is aborted while it waits.
        shot: (i) => ({ path: '/hang', ...(i === 3 ? { abortAfterMs: 30 } : {}) }),
      })
      // One at a time from the client (the server may see a new one a moment before the
      // close of the one it replaces); unbounded, every arrival would have had its own.
      expect(most).toBeLessThanOrEqual(2)
      expect(stats.aborted).toBe(1)
      expect(stats.errors).toEqual({ CLIENT_TIMEOUT: stats.sent - 1 })
      expect(stats.statuses).toEqual({})
    } finally {
      server.off('connection', track)
    }
    await expect.poll(openSockets).toBe(0)
  })
})
