/**
 * Overload protection per origin (issue #18's client side), against real servers on
 * 127.0.0.1: Google SRE's adaptive throttling (`throttle`) and a concurrency limit
 * (`concurrencyLimit`), both refusing locally (never sent, not retried) and observable
 * through the client's `limit` policy.
 */

import type { ServerResponse } from 'node:http'
import type { LimitEventMap } from '@sturdy/core'
import { seededRandom } from '@sturdy/core/testing'
import { aimdLimit, gradientLimit, isOverloadedError, isThrottledError } from '@sturdy/limit'
import { afterEach, describe, expect, it } from 'vitest'
import type { Client, ClientOptions } from './index.ts'
import { createClient } from './index.ts'
import type { TestServer } from './testing.ts'
import { json, startServer } from './testing.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler)
  cleanup.push(() => s.close())
  return s
}

function client(options: ClientOptions): Client {
  const c = createClient(options)
  cleanup.push(() => c.close())
  return c
}

function sheds(c: Client): Array<LimitEventMap['shed']> {
  const p = c.policies.find((x) => x.kind === 'limit')
  if (p?.kind !== 'limit') throw new Error('no limit policy')
  const out: Array<LimitEventMap['shed']> = []
  p.events.on('shed', (e) => out.push(e))
  return out
}

/** A server that holds every request until `release()`. */
async function held(): Promise<TestServer & { release(): void }> {
  const waiting: ServerResponse[] = []
  const s = await server((_req, res) => {
    waiting.push(res)
  })
  return Object.assign(s, {
    release() {
      for (const res of waiting.splice(0)) json(res, 200, { ok: true })
    },
  })
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = performance.now() + ms
  while (!check() && performance.now() < end) await new Promise((r) => setTimeout(r, 5))
}

describe('throttle: SRE adaptive throttling per origin', () => {
  it('an origin refusing everything (503) is sent less and less; refusals are local ThrottledErrors', async () => {
    const s = await server((_req, res) => json(res, 503, {}))
    const c = client({
      baseUrl: s.url,
      throttle: { k: 2 },
      retry: false,
      breaker: false, // it would open after 5 failures and refuse first
      random: seededRandom(42),
    })
    const shed = sheds(c)
    let throttled = 0
    let refused = 0
    for (let i = 0; i < 200; i++) {
      const res = await c.fetch('/').catch((e: unknown) => e)
      if (isThrottledError(res)) {
        throttled++
        expect(res).toMatchObject({ status: 503, throttle: s.origin })
      } else {
        expect((res as Response).status).toBe(503)
        await (res as Response).arrayBuffer()
        refused++
      }
    }
    // With no accepts, p = requests / (requests + 1): after a few calls almost all are
    // refused locally; the origin sees only a handful.
    expect(refused + throttled).toBe(200)
    expect(s.requests()).toBe(refused)
    expect(refused).toBeLessThan(20)
    expect(shed).toHaveLength(throttled)
    expect(shed[0]).toEqual({ name: s.origin, reason: 'throttled', priority: 'normal' })
  })

  it('a refused connection counts as a refusal too; a healthy origin is never throttled', async () => {
    const ok = await server((_req, res) => json(res, 200, {}))
    const c = client({ throttle: {}, retry: false, breaker: false, random: seededRandom(1) })
    for (let i = 0; i < 100; i++) await c.json(`${ok.origin}/`)
    expect(ok.requests()).toBe(100)

    // A port nothing listens on: every connection is refused.
    const gone = await startServer(() => {})
    await gone.close()
    let throttled = 0
    for (let i = 0; i < 50; i++) {
      const e = await c.json(`${gone.origin}/`).catch((error: unknown) => error)
      if (isThrottledError(e)) throttled++
    }
    expect(throttled).toBeGreaterThan(25)
  })

  it('a throttled call is not retried, and the throttle is per origin', async () => {
    const bad = await server((_req, res) => json(res, 503, {}))
    const good = await server((_req, res) => json(res, 200, {}))
    const c = client({
      origins: { [bad.origin]: { throttle: { k: 1 } } },
      retry: { baseDelayMs: 1, maxAttempts: 3 },
      retryBudget: { ratio: 1, minRetriesPerSecond: 1000 },
      random: seededRandom(3),
    })
    for (let i = 0; i < 50; i++) await c.json(`${bad.origin}/`).catch(() => {})
    // Without the throttle, 50 calls × 3 attempts; with it, far fewer reach the origin.
    expect(bad.requests()).toBeLessThan(50)
    for (let i = 0; i < 20; i++) await c.json(`${good.origin}/`)
    expect(good.requests()).toBe(20)
  })
})

describe('concurrencyLimit: a limit per origin', () => {
  it('a fixed limit refuses the attempt beyond it at once with OverloadedError (503, not sent, not retried)', async () => {
    const s = await held()
    const c = client({ baseUrl: s.url, concurrencyLimit: { limit: 2, retryAfterMs: 250 } })
    const shed = sheds(c)
    const first = c.json('/')
    const second = c.json('/')
    await until(() => s.requests() === 2)
    const error = await c.json('/').catch((e: unknown) => e)
    expect(isOverloadedError(error)).toBe(true)
    expect(error).toMatchObject({ status: 503, reason: 'limit', retryAfterMs: 250 })
    expect(shed).toEqual([{ name: s.origin, reason: 'limit', priority: 'normal' }])
    s.release()
    await Promise.all([first, second])
    expect(s.requests()).toBe(2)
    // The slots are free again.
    const third = c.json('/')
    await until(() => s.requests() === 3)
    s.release()
    await third
  })

  it('with a queue, the attempt beyond the limit waits for a slot', async () => {
    const s = await held()
    const c = client({ baseUrl: s.url, concurrencyLimit: { limit: 1, maxQueue: 4 } })
    const calls = [c.json('/'), c.json('/'), c.json('/')]
    for (let n = 1; n <= 3; n++) {
      await until(() => s.requests() === n)
      expect(s.requests()).toBe(n)
      s.release()
    }
    await Promise.all(calls)
  })

  it('a queued attempt leaves the queue when its caller gives up', async () => {
    const s = await held()
    const c = client({ baseUrl: s.url, concurrencyLimit: { limit: 1, maxQueue: 4 } })
    const first = c.json('/')
    await until(() => s.requests() === 1)
    const caller = new AbortController()
    const queued = c.json('/', { signal: caller.signal }).catch((e: unknown) => e)
    caller.abort(new Error('gone'))
    expect(await queued).toMatchObject({ message: 'gone' })
    s.release()
    await first
    expect(s.requests()).toBe(1)
  })

  it('each origin gets its own adaptive algorithm from the factory', async () => {
    const a = await server((_req, res) => json(res, 200, {}))
    const b = await server((_req, res) => json(res, 200, {}))
    let made = 0
    const c = client({
      concurrencyLimit: {
        limit: () => {
          made++
          return aimdLimit({ initialLimit: 4 })
        },
      },
    })
    await c.json(`${a.origin}/`)
    await c.json(`${b.origin}/`)
    await c.json(`${a.origin}/`)
    expect(made).toBe(2)
  })

  it('refuses a shared algorithm instance with a clear error', () => {
    expect(() =>
      createClient({ concurrencyLimit: { limit: gradientLimit() as never } }),
    ).toThrowError(/function that makes an algorithm per origin/)
  })
})
