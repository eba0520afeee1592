/**
 * Every timeout kind fires and says which it was (`ClientTimeoutError.phase`), against
 * real servers on 127.0.0.1. Budgets are short and the servers far slower than them, so
 * a busy machine cannot turn one kind into another.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ClientTimeoutError } from './index.ts'
import { createClient, isClientTimeoutError } from './index.ts'
import type { TestServer } from './testing.ts'
import { delay, stalledPort, startServer } from './testing.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function server(handler: Parameters<typeof startServer>[0]): Promise<TestServer> {
  const s = await startServer(handler)
  cleanup.push(() => s.close())
  return s
}

function client(options: Parameters<typeof createClient>[0]) {
  const c = createClient({ retry: false, ...options })
  cleanup.push(() => c.close())
  return c
}

async function phaseOf(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isClientTimeoutError(error), String(error)).toBe(true)
  return (error as ClientTimeoutError).phase
}

describe('timeouts', () => {
  it('connect: a connection that never comes up', async () => {
    const stalled = await stalledPort()
    cleanup.push(() => stalled.close())
    const c = client({ connectTimeoutMs: 150 })
    expect(await phaseOf(c.json(`http://127.0.0.1:${stalled.port}/`))).toBe('connect')
  })

  it('headers: a server that never answers', async () => {
    const s = await server(() => {})
    const c = client({ headersTimeoutMs: 150 })
    expect(await phaseOf(c.json(`${s.url}/`))).toBe('headers')
  })

  it('body: a body that stalls after the headers', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"a":')
    })
    const c = client({ bodyTimeoutMs: 150 })
    expect(await phaseOf(c.json(`${s.url}/`))).toBe('body')
    // fetch: the body stalls while the caller reads it.
    const res = await c.fetch(`${s.url}/`)
    expect(await phaseOf(res.text())).toBe('body')
  })

  it('attempt: a body that trickles (never idle) past the attempt budget', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const timer = setInterval(() => res.write(' '), 20)
      res.on('close', () => clearInterval(timer))
    })
    const c = client({ attemptTimeoutMs: 200, bodyTimeoutMs: 1000 })
    expect(await phaseOf(c.json(`${s.url}/`))).toBe('attempt')
  })

  it('deadline: the call budget (timeoutMs) across attempts', async () => {
    const s = await server((_req, res) => {
      res.writeHead(503, { 'content-length': '0' })
      res.end()
    })
    const c = createClient({
      retry: { baseDelayMs: 60, jitter: 'none', maxAttempts: 10, minAttemptMs: 300 },
    })
    cleanup.push(() => c.close())
    const started = performance.now()
    const res = await c.fetch(`${s.url}/`, { timeoutMs: 1000 })
    // The retry stops when the next sleep would leave less than minAttemptMs before the
    // deadline, and answers with the last response (not a deadline error): after the
    // fourth attempt (≈ 420 ms in), well before the deadline, so a pause of a loaded
    // machine cannot put an attempt in flight at the deadline. Ten attempts with this
    // backoff would take over 30 s; the bound is loose for the same machine.
    expect(res.status).toBe(503)
    expect(performance.now() - started).toBeLessThan(1000 + 1500)
    const slow = await server(() => {})
    expect(await phaseOf(c.json(`${slow.url}/`, { timeoutMs: 150 }))).toBe('deadline')
  })

  it('keep-alive: an idle connection is closed after keepAliveTimeoutMs, the next call opens one', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '2' })
      res.end('{}')
    })
    const c = client({ keepAliveTimeoutMs: 100 })
    await c.json(`${s.url}/`)
    expect(s.open()).toBe(1)
    for (let i = 0; i < 100 && s.open() > 0; i++) await delay(20)
    expect(s.open()).toBe(0)
    expect(c.stats(s.origin)?.connected).toBe(0)
    await c.json(`${s.url}/`)
    expect(s.connections()).toBe(2)
  })
})
