/**
 * Hedged requests per origin (`hedge` option), against real servers on 127.0.0.1: who is
 * hedged, losers aborted (the server sees their connections close), the shared retry
 * budget, refusals of our own that must not end the call, events for observers, and no
 * timer, listener or socket left behind.
 */

import { getEventListeners } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ClientInterceptor, HedgeEventMap, ObservablePolicy } from '@sturdy/core'
import { seededRandom } from '@sturdy/core/testing'
import { timerWheel } from '@sturdy/timeout'
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, ClientOptions } from './index.ts'
import { createClient } from './index.ts'
import type { TestServer } from './testing.ts'
import { delay, json, startServer } from './testing.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

interface Upstream extends TestServer {
  /** Requests whose connection closed before the answer was sent. */
  abandoned(): number
}

/** A server answering request n after `latency(n)` ms (or never, for 'hang'). */
async function upstream(
  latency: (n: number, req: IncomingMessage) => number | 'hang',
  answer: (res: ServerResponse, n: number) => void = (res, n) => json(res, 200, { n }),
): Promise<Upstream> {
  const timers = new Set<NodeJS.Timeout>()
  let abandoned = 0
  const s = await startServer((req, res, n) => {
    const ms = latency(n, req)
    let timer: NodeJS.Timeout | undefined
    res.on('close', () => {
      if (!res.writableFinished) abandoned++
      if (timer !== undefined) {
        clearTimeout(timer)
        timers.delete(timer)
      }
    })
    req.resume()
    if (ms === 'hang') return
    timer = setTimeout(() => {
      timers.delete(timer as NodeJS.Timeout)
      answer(res, n)
    }, ms)
    timers.add(timer)
  })
  const close = s.close
  cleanup.push(() => {
    for (const t of timers) clearTimeout(t)
    return close()
  })
  return Object.assign(s, { abandoned: () => abandoned })
}

function client(options: ClientOptions): Client {
  const c = createClient(options)
  cleanup.push(() => c.close())
  return c
}

function hedgeEvents(c: Client): ObservablePolicy & { kind: 'hedge' } {
  const p = c.policies.find((x) => x.kind === 'hedge')
  if (p === undefined || p.kind !== 'hedge') throw new Error('no hedge policy')
  return p
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms
  while (!check() && performance.now() < end) await delay(5)
}

describe('hedge: who is hedged', () => {
  it('hedges a slow GET: the second attempt wins, the first is aborted and its connection closed', async () => {
    const s = await upstream((n) => (n === 1 ? 'hang' : 5))
    const seen: Array<{ attempt: number; after: string | undefined }> = []
    const spy: ClientInterceptor = (request, next) => {
      seen.push({ attempt: request.attempt, after: request.resend?.after })
      return next()
    }
    const c = client({ baseUrl: s.url, hedge: { delayMs: 30 }, interceptors: [spy] })
    const events: Array<[string, unknown]> = []
    const hub = hedgeEvents(c)
    hub.events.on('hedge', (e) => events.push(['hedge', e]))
    hub.events.on('hedgeWon', (e) => events.push(['hedgeWon', e]))

    expect(await c.json('/')).toEqual({ n: 2 })
    await until(() => s.abandoned() === 1)
    expect(s.abandoned()).toBe(1)
    expect(s.requests()).toBe(2)
    expect(seen).toEqual([
      { attempt: 1, after: undefined },
      { attempt: 2, after: 'hedge' },
    ])
    // Named after the origin, like the retries' events.
    expect(events).toEqual([
      ['hedge', { name: s.origin, attempt: 2, trigger: 'delay', delayMs: 30 }],
      ['hedgeWon', expect.objectContaining({ name: s.origin, attempt: 2, attempts: 2 })],
    ])
  })

  it("a hedged fetch()'s body still stops when the caller gives up after the headers", async () => {
    const s = await upstream(
      (n) => (n === 1 ? 'hang' : 1),
      (res) => {
        res.writeHead(200, { 'content-type': 'text/plain' })
        res.write('part') // and never the rest
      },
    )
    const c = client({ baseUrl: s.url, hedge: { delayMs: 20 } })
    const caller = new AbortController()
    const res = await c.fetch('/', { signal: caller.signal })
    expect(res.status).toBe(200)
    const reading = res.text().catch((e: unknown) => e)
    caller.abort(new Error('caller left'))
    expect(await reading).toMatchObject({ message: 'caller left' })
    // Both requests' connections closed unanswered: the loser's and the abandoned winner's.
    await until(() => s.abandoned() === 2)
    expect(s.abandoned()).toBe(2)
  })

  it('does not hedge a fast call', async () => {
    const s = await upstream(() => 1)
    // A delay no pause of a busy host reaches inside a 1 ms call.
    const c = client({ baseUrl: s.url, hedge: { delayMs: 5000 } })
    for (let i = 0; i < 20; i++) await c.json('/')
    expect(s.requests()).toBe(20)
  })

  it('never hedges a POST without an Idempotency-Key, nor a call with retry: false', async () => {
    const s = await upstream(() => 80)
    const c = client({ baseUrl: s.url, hedge: { delayMs: 10 } })
    const res = await c.fetch('/', { method: 'POST', body: '{}' })
    await res.arrayBuffer()
    expect(s.requests()).toBe(1)
    await c.json('/', { retry: false })
    expect(s.requests()).toBe(2)
  })

  it('hedges a POST the caller says is idempotent, or that carries an Idempotency-Key, with the same body', async () => {
    const bodies: string[] = []
    const s = await upstream(
      (n) => (n % 2 === 1 ? 'hang' : 5),
      (res, n) => json(res, 200, { n }),
    )
    s.server.prependListener('request', (req: IncomingMessage) => {
      let text = ''
      req.on('data', (chunk: Buffer) => {
        text += chunk
      })
      req.on('end', () => bodies.push(text))
    })
    const c = client({ baseUrl: s.url, hedge: { delayMs: 20 } })
    expect(await c.json('/', { method: 'POST', json: { a: 1 }, idempotent: true })).toEqual({
      n: 2,
    })
    expect(
      await c.json('/', { method: 'POST', json: { a: 2 }, headers: { 'idempotency-key': 'k' } }),
    ).toEqual({ n: 4 })
    expect(bodies).toEqual(['{"a":1}', '{"a":1}', '{"a":2}', '{"a":2}'])
  })

  it('never hedges a body that can be sent only once (a stream)', async () => {
    const s = await upstream(() => 60)
    const c = client({ baseUrl: s.url, hedge: { delayMs: 10 } })
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('x'))
        controller.close()
      },
    })
    const res = await c.fetch('/', { method: 'PUT', body, duplex: 'half' } as RequestInit)
    await res.arrayBuffer()
    expect(s.requests()).toBe(1)
  })

  it('a 503 starts the next hedge at once, and the good answer wins', async () => {
    const s = await upstream(
      () => 1,
      (res, n) => (n === 1 ? json(res, 503, {}) : json(res, 200, { n })),
    )
    const c = client({ baseUrl: s.url, hedge: { delayMs: 5000 } })
    const started = performance.now()
    expect(await c.json('/')).toEqual({ n: 2 })
    expect(performance.now() - started).toBeLessThan(4000)
    expect(s.requests()).toBe(2)
  })

  it('only per origin: another origin of the same client is not hedged', async () => {
    const hedged = await upstream((n) => (n === 1 ? 'hang' : 1))
    const plain = await upstream(() => 60)
    const c = client({ origins: { [hedged.origin]: { hedge: { delayMs: 10 } } } })
    expect(await c.json(`${hedged.origin}/`)).toEqual({ n: 2 })
    expect(await c.json(`${plain.origin}/`)).toEqual({ n: 1 })
    expect(plain.requests()).toBe(1)
  })
})

describe('hedge: load', () => {
  it('spends the retry budget: with it spent, no hedge is sent and the slow answer comes back', async () => {
    const s = await upstream(() => 60)
    // ratio 0 and 0.2 retries/s over 10 s: two hedges in all.
    const c = client({
      baseUrl: s.url,
      hedge: { delayMs: 10 },
      retryBudget: { ratio: 0, minRetriesPerSecond: 0.2 },
    })
    let exhausted = 0
    hedgeEvents(c).events.on('budgetExhausted', () => exhausted++)
    for (let i = 0; i < 6; i++) await c.json('/')
    expect(s.requests()).toBe(6 + 2)
    expect(exhausted).toBe(4)
  })

  it('a hedge refused by our own concurrency limit does not end the call: the first attempt answers', async () => {
    const s = await upstream(() => 80)
    const c = client({ baseUrl: s.url, hedge: { delayMs: 10 }, concurrencyLimit: { limit: 1 } })
    expect(await c.json('/')).toEqual({ n: 1 })
    expect(s.requests()).toBe(1)
  })

  it('losers are aborted under load and nothing is left behind: timers, wheel entries, listeners, requests', async () => {
    const random = seededRandom(7)
    const s = await upstream(() => (random() < 0.3 ? 200 : 2))
    const wheel = timerWheel()
    const c = createClient({
      baseUrl: s.url,
      wheel,
      connections: 16,
      hedge: { delayMs: 20, maxHedgedAttempts: 2 },
      retryBudget: { ratio: 1, minRetriesPerSecond: 100 },
    })
    const shutdown = new AbortController()
    const context = { signal: shutdown.signal }
    const baseline = timers()
    let won = 0
    hedgeEvents(c).events.on('hedgeWon', () => won++)
    let next = 0
    const lane = async (): Promise<void> => {
      while (next < 300) {
        next++
        await c.json('/', { context })
      }
    }
    await Promise.all(Array.from({ length: 8 }, lane))
    expect(won).toBeGreaterThan(0)
    await until(() => s.abandoned() >= won)
    expect(s.abandoned()).toBeGreaterThanOrEqual(won)
    expect(wheel.size).toBe(0)
    // undici lets go of an aborted loser asynchronously: one already on a socket when that
    // socket is destroyed, one still queued when a socket picks it up (and our handler
    // refuses it). Both happen once the pool reconnects, so allow it a moment.
    await until(() => c.stats(s.origin)?.size === 0, 10_000)
    expect(c.stats(s.origin)).toMatchObject({ running: 0, pending: 0, queued: 0 })
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    // The server hears of a loser's destroyed socket a moment after the pool replaced it.
    await until(() => s.open() <= 16, 5_000)
    expect(s.open()).toBeLessThanOrEqual(16)
    await c.close()
    // The hedging timers were all cleared; the wheel's own stops after its last tick.
    await until(() => timers() <= baseline, 2000)
    expect(timers()).toBeLessThanOrEqual(baseline)
  }, 60_000)
})

describe('hedge: events reach observers', () => {
  it('the client has one hedge policy for observers; a late subscriber still hears every origin', async () => {
    const a = await upstream((n) => (n === 1 ? 'hang' : 1))
    const b = await upstream((n) => (n === 1 ? 'hang' : 1))
    const c = client({ hedge: { delayMs: 1000 } })
    await c.json(`${a.origin}/`)
    const names: string[] = []
    const dispose = hedgeEvents(c).events.on('hedge', (e: HedgeEventMap['hedge']) =>
      names.push(e.name),
    )
    await c.json(`${a.origin}/x`)
    await c.json(`${b.origin}/`)
    dispose()
    await c.json(`${b.origin}/y`)
    expect(names).toEqual([b.origin])
    expect(hedgeEvents(c).name).toBe('client')
  })
})
