import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { getRequestListener } from '@hono/node-server'
import type { LimitEventMap } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { ConcurrencyLimitMiddleware, ConcurrencyLimitOptions } from './middleware.ts'
import { concurrencyLimit } from './middleware.ts'
import { eventLoopPressure, shedEarly } from './node.ts'

function block(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // a stalled event loop
  }
}

describe('eventLoopPressure (Node)', () => {
  it('reports pressure after the event loop stalls, bounded to [0, 1], and stops on close', async () => {
    const pressure = eventLoopPressure({ maxDelayMs: 20, intervalMs: 50 })
    expect(pressure.probability()).toBe(0) // not an interval yet: nothing read
    // Stall well past 2 × maxDelayMs, several times; the histogram records each stall
    // on its next tick.
    for (let i = 0; i < 3; i++) {
      block(120)
      await new Promise((r) => setTimeout(r, 15))
    }
    expect(pressure.delayMs()).toBeGreaterThan(40)
    expect(pressure.probability()).toBeGreaterThan(0)
    expect(pressure.probability()).toBeLessThanOrEqual(1)
    pressure.close()
    pressure.close()
    expect(pressure.probability()).toBe(0)
  })

  it('refuses nonsense options', () => {
    expect(() => eventLoopPressure({ maxDelayMs: 0 })).toThrow(/maxDelayMs/)
    expect(() => eventLoopPressure({ percentile: 101 })).toThrow(/percentile/)
    expect(() => eventLoopPressure({ intervalMs: 0 })).toThrow(/intervalMs/)
  })
})

/**
 * A Hono app behind `shedEarly()` on a real server: `/work/:id` and `POST /checkout` wait
 * until released, so requests stay in flight; `listened` counts what reached the listener.
 */
async function earlyServer(options: ConcurrencyLimitOptions) {
  const limit = concurrencyLimit({ clock: manualClock(1000), ...options })
  const app = new Hono().use(sturdy(limit))
  const gates: Array<() => void> = []
  const held = () => new Promise<void>((r) => gates.push(r))
  app.get('/work/:id', async (c) => {
    await held()
    return c.text(c.req.param('id'))
  })
  app.post('/checkout', async (c) => {
    await held()
    return c.text('paid')
  })
  app.get('/healthz', (c) => c.text('ok'))
  let listened = 0
  const honoListener = getRequestListener(app.fetch)
  const server = createServer(
    shedEarly(limit, (req: IncomingMessage, res: ServerResponse) => {
      listened++
      return honoListener(req, res)
    }),
  )
  server.keepAliveTimeout = 1
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const shed: LimitEventMap['shed'][] = []
  limit.events.on('shed', (e) => shed.push(e))
  return {
    limit,
    shed,
    base,
    listened: () => listened,
    openAll: () => {
      for (const open of gates.splice(0)) open()
    },
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

/** Sends one raw HTTP/1.1 request line (Connection: close) and waits for the answer's end. */
async function rawRequest(port: number, line: string): Promise<string> {
  const socket = connect(port, '127.0.0.1')
  socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${line}`)))
  socket.end(`${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)
  let answer = ''
  for await (const chunk of socket) answer += String(chunk)
  return answer
}

/** Polls (bounded) until `ok()` holds: requests sent over sockets arrive asynchronously. */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5))
  expect(ok()).toBe(true)
}

describe('shedEarly (node:http)', () => {
  it('answers a request the limit would refuse at once before the listener, with the same problem+json', async () => {
    const s = await earlyServer({ limit: 1, maxQueue: 1, queueTimeoutMs: 60_000 })
    try {
      const first = fetch(`${s.base}/work/1`)
      await until(() => s.limit.stats().inflight === 1)
      const second = fetch(`${s.base}/work/2?x=1`)
      await until(() => s.limit.stats().queued === 1)
      expect(s.listened()).toBe(2)

      const res = await fetch(`${s.base}/work/3?y=2`)
      expect(res.status).toBe(503)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(res.headers.get('retry-after')).toBe('1')
      // Sized, not chunked: a refusal is one small write.
      expect(res.headers.get('transfer-encoding')).toBeNull()
      expect(Number(res.headers.get('content-length'))).toBeGreaterThan(100)
      expect(await res.json()).toMatchObject({
        status: 503,
        code: 'OVERLOADED',
        reason: 'queue-full',
      })
      expect(s.listened()).toBe(2) // never reached the framework
      expect(s.shed).toEqual([{ name: 'http-server', reason: 'queue-full', priority: 'normal' }])

      s.openAll()
      expect(await (await first).text()).toBe('1')
      await until(() => s.limit.stats().inflight === 1)
      s.openAll()
      expect(await (await second).text()).toBe('2')
      // Room again: the next request goes through to the listener.
      const next = fetch(`${s.base}/work/4`)
      await until(() => s.limit.stats().inflight === 1)
      s.openAll()
      expect((await next).status).toBe(200)
      expect(s.listened()).toBe(3)
      expect(s.limit.stats()).toEqual({ limit: 1, inflight: 0, queued: 0 })
    } finally {
      s.openAll()
      await s.close()
    }
  })

  it('lets through never routes and work that evicts a lower priority from the full queue', async () => {
    const s = await earlyServer({
      limit: 1,
      maxQueue: 1,
      queueTimeoutMs: 60_000,
      priorityHeader: 'X-Priority',
      routes: [
        { route: 'GET /healthz', priority: 'never' },
        { route: 'POST /checkout', priority: 'critical' },
      ],
    })
    try {
      const held = fetch(`${s.base}/work/1`)
      await until(() => s.limit.stats().inflight === 1)
      // A sheddable request waits in the one queue place.
      const sheddable = fetch(`${s.base}/work/2`, { headers: { 'x-priority': 'sheddable' } })
      await until(() => s.limit.stats().queued === 1)
      // Full for normal work: a normal request evicts the sheddable one (the middleware
      // decides, so it reaches the listener); the gate does not refuse it.
      const normal = fetch(`${s.base}/work/3`)
      const evicted = await sheddable
      expect(evicted.status).toBe(503)
      expect(await evicted.json()).toMatchObject({ reason: 'queue-full' })
      expect(s.listened()).toBe(3)
      // Full of normal work now: a never route is answered by the app, a normal request
      // is refused at the gate, and a critical route gets through to evict the queued
      // normal one (the middleware's rule).
      const health = await fetch(`${s.base}/healthz`)
      expect(health.status).toBe(200)
      expect(await health.text()).toBe('ok')
      const refused = await fetch(`${s.base}/work/4`)
      expect(refused.status).toBe(503)
      expect(s.listened()).toBe(4) // the health check; /work/4 was refused at the gate
      const checkout = fetch(`${s.base}/checkout`, { method: 'POST' })
      const bumped = await normal
      expect(bumped.status).toBe(503)
      expect(s.listened()).toBe(5)
      s.openAll()
      expect((await held).status).toBe(200)
      await until(() => s.limit.stats().inflight === 1 && s.limit.stats().queued === 0)
      s.openAll()
      expect(await (await checkout).text()).toBe('paid')
      expect(s.shed.map((e) => `${e.reason}/${e.priority}`)).toEqual([
        'queue-full/sheddable',
        'queue-full/normal',
        'queue-full/normal',
      ])
    } finally {
      s.openAll()
      await s.close()
    }
  })

  it('with no queue: refuses at the limit, and sheddable work past its share; HEAD gets a sized answer', async () => {
    const s = await earlyServer({ limit: 2, maxQueue: 0, priorityHeader: 'X-Priority' })
    try {
      const first = fetch(`${s.base}/work/1`)
      await until(() => s.limit.stats().inflight === 1)
      // In flight 1 of 2: sheddable work's share (half) is used up, normal work's is not.
      const sheddable = await fetch(`${s.base}/work/2`, { headers: { 'x-priority': 'sheddable' } })
      expect(sheddable.status).toBe(503)
      expect(await sheddable.json()).toMatchObject({ reason: 'limit' })
      expect(s.listened()).toBe(1)
      const second = fetch(`${s.base}/work/3`)
      await until(() => s.limit.stats().inflight === 2)
      const head = await fetch(`${s.base}/work/4`, { method: 'HEAD' })
      expect(head.status).toBe(503)
      expect(Number(head.headers.get('content-length'))).toBeGreaterThan(100)
      expect(await head.text()).toBe('')
      expect(s.listened()).toBe(2)
      expect(s.shed).toEqual([
        { name: 'http-server', reason: 'limit', priority: 'sheddable' },
        { name: 'http-server', reason: 'limit', priority: 'normal' },
      ])
      s.openAll()
      expect((await first).status).toBe(200)
      expect((await second).status).toBe(200)
    } finally {
      s.openAll()
      await s.close()
    }
  })

  it('leaves to the middleware what the framework may read differently, and a priority sent in the header', async () => {
    const s = await earlyServer({
      limit: 1,
      maxQueue: 1,
      queueTimeoutMs: 60_000,
      priorityHeader: 'X-Priority',
      routes: [{ route: '/healthz', priority: 'never' }],
    })
    try {
      const held = fetch(`${s.base}/work/1`)
      await until(() => s.limit.stats().inflight === 1)
      const queued = fetch(`${s.base}/work/2`)
      await until(() => s.limit.stats().queued === 1)
      // Full for normal work. A never rule matches with a query string.
      expect((await fetch(`${s.base}/healthz?probe=1`)).status).toBe(200)
      // Paths the framework decodes or normalizes, and other target forms, reach the
      // listener (the middleware then refuses the /work ones itself).
      const port = new URL(s.base).port
      for (const line of [
        'GET /work/%33 HTTP/1.1',
        'GET /./work/4 HTTP/1.1',
        `GET http://127.0.0.1:${port}/work/5 HTTP/1.1`,
        'OPTIONS * HTTP/1.1',
      ]) {
        const before = s.listened()
        await rawRequest(Number(port), line)
        expect(s.listened(), line).toBe(before + 1)
      }
      const viaGate = s.listened()
      expect((await fetch(`${s.base}/work/6?x=1`)).status).toBe(503)
      expect(s.listened()).toBe(viaGate)
      // Critical by its header: the gate lets it through, and it evicts the queued one.
      const critical = fetch(`${s.base}/work/7`, { headers: { 'x-priority': 'critical' } })
      expect((await queued).status).toBe(503)
      expect(s.listened()).toBe(viaGate + 1)
      s.openAll()
      expect((await held).status).toBe(200)
      await until(() => s.limit.stats().inflight === 1 && s.limit.stats().queued === 0)
      s.openAll()
      expect(await (await critical).text()).toBe('7')
    } finally {
      s.openAll()
      await s.close()
    }
  })

  it('refuses a limit whose limiter it cannot ask ahead of admit()', async () => {
    const { concurrencyLimiter } = await import('./limiter.ts')
    const own = concurrencyLimiter({ limit: 1 })
    expect(() => shedEarly(concurrencyLimit({ limiter: own }), () => {})).not.toThrow()
    const custom = { ...own, admit: own.admit.bind(own) } as typeof own
    expect(() => shedEarly(concurrencyLimit({ limiter: custom }), () => {})).toThrow(
      /concurrencyLimiter/,
    )
  })

  it('refuses a middleware that is not concurrencyLimit()', () => {
    const other = Object.assign(async () => {}, { kind: 'limit' })
    expect(() => shedEarly(other as unknown as ConcurrencyLimitMiddleware, () => {})).toThrow(
      /concurrencyLimit/,
    )
  })
})
