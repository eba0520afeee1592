/**
 * Retries and the breaker, as the client composes them: idempotency, pushback, budgets,
 * streamed bodies, and an open circuit that fails fast with a retry in front of it.
 */

import { isBrokenCircuitError } from '@sturdy/breaker'
import { manualClock } from '@sturdy/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient, isConnectionError, isHttpStatusError } from './index.ts'
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

function client(options: Parameters<typeof createClient>[0] = {}) {
  const c = createClient(options)
  cleanup.push(() => c.close())
  return c
}

/** 503 with Retry-After for the first `failures` requests, then 200. */
function flaky(failures: number, retryAfter?: string) {
  return server((req, res, n) => {
    if (n <= failures) {
      res.writeHead(503, {
        'content-length': '0',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      })
      res.end()
    } else json(res, 200, { n, method: req.method })
  })
}

describe('retries', () => {
  it('retries a GET after 503 + Retry-After, waiting what the server asked', async () => {
    const s = await flaky(1, '1')
    const c = client({ baseUrl: s.url, retry: { baseDelayMs: 1, jitter: 'none' } })
    const started = performance.now()
    expect(await c.json('/')).toEqual({ n: 2, method: 'GET' })
    expect(performance.now() - started).toBeGreaterThanOrEqual(990)
    expect(s.requests()).toBe(2)
  })

  it('fails at once when Retry-After asks for longer than the deadline leaves', async () => {
    const s = await flaky(5, '30')
    const c = client({ baseUrl: s.url })
    const started = performance.now()
    const error = await c.json('/', { timeoutMs: 2000 }).catch((e: unknown) => e)
    expect(isHttpStatusError(error)).toBe(true)
    expect(error).toMatchObject({ upstreamStatus: 503, retryAfterMs: 30_000, status: 502 })
    expect(performance.now() - started).toBeLessThan(1000)
    expect(s.requests()).toBe(1)
  })

  it('never retries a POST without an Idempotency-Key', async () => {
    const s = await flaky(1)
    const c = client({ baseUrl: s.url, retry: { baseDelayMs: 1 } })
    const res = await c.fetch('/', { method: 'POST', body: '{}' })
    expect(res.status).toBe(503)
    expect(s.requests()).toBe(1)
  })

  it('retries a POST that carries an Idempotency-Key, with the same key and body', async () => {
    const bodies: string[] = []
    const s = await server((req, res, n) => {
      let text = ''
      req.on('data', (c: Buffer) => {
        text += c
      })
      req.on('end', () => {
        bodies.push(text)
        if (n === 1) {
          res.writeHead(503, { 'content-length': '0' })
          res.end()
        } else json(res, 201, { ok: true })
      })
    })
    const c = client({ baseUrl: s.url, retry: { baseDelayMs: 1 } })
    const out = await c.json('/orders', {
      method: 'POST',
      json: { sku: 'a' },
      headers: { 'Idempotency-Key': 'k-1' },
    })
    expect(out).toEqual({ ok: true })
    expect(bodies).toEqual(['{"sku":"a"}', '{"sku":"a"}'])
    expect(s.seen.map((h) => h['idempotency-key'])).toEqual(['k-1', 'k-1'])
  })

  it('retries a POST whose connection was refused (never sent)', async () => {
    const s = await server((_req, res) => json(res, 200, {}))
    const port = s.port
    await s.close()
    const c = client({ retry: { baseDelayMs: 1, maxAttempts: 3 } })
    const error = await c
      .fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' })
      .catch((e: unknown) => e)
    expect(isConnectionError(error)).toBe(true)
    expect(error).toMatchObject({ sent: false, errorType: 'ECONNREFUSED' })
    const attempts: number[] = []
    c.retries.on('attempt', (e) => attempts.push(e.attempt))
    await c.fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' }).catch(() => {})
    expect(attempts).toEqual([1, 2, 3])
  })

  it('does not retry a streamed body once sent, and says why', async () => {
    const s = await server((req) => {
      req.resume()
      req.on('end', () => req.socket.destroy())
    })
    const c = client({ baseUrl: s.url, retry: { baseDelayMs: 1 } })
    async function* chunks() {
      yield new TextEncoder().encode('a')
      yield new TextEncoder().encode('b')
    }
    const error = await c
      .fetch('/', {
        method: 'PUT',
        body: chunks() as unknown as BodyInit,
        duplex: 'half',
      } as RequestInit)
      .catch((e: unknown) => e)
    expect(isConnectionError(error)).toBe(true)
    expect((error as Error).message).toContain('not retried: the request body is a stream')
    expect(s.requests()).toBe(1)
  })

  it('the retry budget caps retries per origin', async () => {
    const s = await flaky(1000)
    const c = client({
      baseUrl: s.url,
      retry: { baseDelayMs: 0, maxAttempts: 5 },
      retryBudget: { ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 },
      breaker: false,
    })
    for (let i = 0; i < 5; i++) expect((await c.fetch('/')).status).toBe(503)
    // One retry in the budget (0.1/s over 10 s), then none.
    expect(s.requests()).toBe(6)
  })
})

describe('breaker', () => {
  it('opens, fails fast while open even with a retry in front, and recovers', async () => {
    const clock = manualClock(1000)
    let healthy = false
    const s = await server((_req, res) => {
      if (healthy) json(res, 200, { ok: true })
      else {
        res.writeHead(503, { 'content-length': '0' })
        res.end()
      }
    })
    const c = client({
      baseUrl: s.url,
      clock,
      breaker: { openMs: 10_000 },
      retry: { maxAttempts: 3, baseDelayMs: 0 },
      retryBudget: false,
    })
    // 2 calls × 3 attempts = 6 consecutive failures: the breaker trips after the 6th.
    expect((await c.fetch('/')).status).toBe(503)
    expect((await c.fetch('/')).status).toBe(503)
    expect(c.breakers.peek(s.origin)?.state).toBe('open')
    const sent = s.requests()
    const started = performance.now()
    const error = await c.fetch('/').catch((e: unknown) => e)
    expect(isBrokenCircuitError(error)).toBe(true)
    expect(error).toMatchObject({ retryAfterMs: 10_000 })
    // Well under the 10 s open period (the clock is manual: no time passes at all).
    expect(performance.now() - started).toBeLessThan(500)
    expect(s.requests()).toBe(sent)
    healthy = true
    await clock.advanceAsync(10_000)
    expect(await c.json('/')).toEqual({ ok: true })
    expect(c.breakers.peek(s.origin)?.state).toBe('closed')
  })

  it("does not count deadlines of calls sent with less than minBudgetMs left; a fair budget's deadline counts", async () => {
    // An origin that never answers: every call ends on its deadline.
    const s = await server(() => {})
    const c = client({
      baseUrl: s.url,
      breaker: { openMs: 60_000, minBudgetMs: 40 },
      retry: false,
    })
    // Ten callers with nearly spent budgets: their deadlines are theirs, not the origin's.
    for (let i = 0; i < 10; i++) {
      const error = await c.fetch('/', { timeoutMs: 20 }).catch((e: unknown) => e)
      expect(error).toMatchObject({ status: 504 })
    }
    expect(c.breakers.peek(s.origin)?.state).toBe('closed')
    // A call whose budget ran out before its attempt (a pause on a busy host) never
    // reaches the breaker: every call the breaker saw is an exclusion, none a failure.
    const counts = c.breakers.peek(s.origin)?.counts
    expect(counts?.requests).toBeGreaterThan(0)
    expect(counts).toMatchObject({ totalFailures: 0, totalExclusions: counts?.requests })
    // Six calls given a fair budget that the origin still lets run out: it is unhealthy.
    for (let i = 0; i < 6; i++) await c.fetch('/', { timeoutMs: 60 }).catch(() => {})
    expect(c.breakers.peek(s.origin)?.state).toBe('open')
  })

  it('rejects a negative breaker.minBudgetMs', () => {
    expect(() => createClient({ breaker: { minBudgetMs: -1 } })).toThrow(/minBudgetMs/)
  })
})
