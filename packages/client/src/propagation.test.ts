/**
 * What a call carries to the next hop, across real Hono services on 127.0.0.1: the
 * remaining deadline (shrinking hop by hop), the request id and the trace context.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Middleware } from '@sturdy/core'
import { isTimeoutError, VALUES } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient, outgoingContext, stampTrace, traceparentOf } from './index.ts'
import { delay } from './testing.ts'

const servers: Server[] = []
const client = createClient({ retry: false })
afterAll(async () => {
  await client.close()
  for (const s of servers) await new Promise((r) => s.close(r))
})

async function start(app: {
  fetch: (request: Request) => Response | Promise<Response>
}): Promise<string> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  servers.push(server)
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const TRACE = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
  traceState: 'vendor=abc,other=1',
}

/** Stands in for requestLogger() and tracing(): shares a request id and a trace. */
const ids: Middleware<{ requestId: string }> = async (ex, next) => {
  ex.set(VALUES.requestId, 'req-42')
  ex.set(VALUES.trace, TRACE)
  await next()
}

describe('propagation', () => {
  it('the remaining deadline shrinks hop by hop across two services', async () => {
    const c = await start(
      new Hono().get('/c', (ctx) =>
        ctx.json({
          timeout: Number(ctx.req.header('x-request-timeout-ms')),
          requestId: ctx.req.header('x-request-id') ?? null,
        }),
      ),
    )
    const b = await start(
      new Hono().use(sturdy(deadline())).get('/b', async (ctx) => {
        await delay(40) // work before the next hop
        const downstream = await client.json<{ timeout: number }>(`${c}/c`, { context: ctx })
        return ctx.json({
          received: Number(ctx.req.header('x-request-timeout-ms')),
          sent: downstream.timeout,
          requestId: ctx.req.header('x-request-id'),
          traceparent: ctx.req.header('traceparent'),
          tracestate: ctx.req.header('tracestate'),
        })
      }),
    )
    const a = await start(
      new Hono().use(sturdy(ids, deadline({ budgetMs: 10_000 }))).get('/a', async (ctx) => {
        await delay(40)
        return ctx.json(await client.json(`${b}/b`, { context: ctx }))
      }),
    )
    const res = await fetch(`${a}/a`)
    const out = (await res.json()) as {
      received: number
      sent: number
      requestId: string
      traceparent: string
      tracestate: string
    }
    // A had 10 s (room for a loaded machine), spent ≥ 40, kept a 5 ms margin; B spent ≥ 40
    // more and kept 5.
    expect(out.received).toBeLessThanOrEqual(10_000 - 40 - 5)
    expect(out.received).toBeGreaterThan(0)
    expect(out.sent).toBeLessThanOrEqual(out.received - 40 - 5)
    expect(out.sent).toBeGreaterThan(0)
    expect(out.requestId).toBe('req-42')
    // Without a client span, the parent is the request's span, and tracestate survives.
    expect(out.traceparent).toBe(`00-${TRACE.traceId}-${TRACE.spanId}-01`)
    expect(out.tracestate).toBe('vendor=abc,other=1')
  })

  it('the request deadline bounds the call; once it passed, nothing is sent', async () => {
    let hits = 0
    const slow = await start(
      new Hono().get('/slow', async (ctx) => {
        hits++
        await delay(10_000)
        return ctx.text('late')
      }),
    )
    const outcomes: Array<{ error: unknown; ms: number }> = []
    let done!: () => void
    const finished = new Promise<void>((resolve) => {
      done = resolve
    })
    const a = await start(
      new Hono().use(sturdy(deadline({ budgetMs: 1500 }))).get('/a', async (ctx) => {
        for (let i = 0; i < 2; i++) {
          const started = performance.now()
          const error = await client
            .fetch(`${slow}/slow`, { context: ctx })
            .catch((e: unknown) => e)
          outcomes.push({ error, ms: performance.now() - started })
        }
        done()
        return ctx.text('too late')
      }),
    )
    const res = await fetch(`${a}/a`)
    await finished
    expect([200, 504]).toContain(res.status)
    const [first, second] = outcomes
    expect(isTimeoutError(first?.error)).toBe(true)
    // Bounded by the 1.5 s budget, not the upstream's 10 s (loose: scheduling on a loaded machine).
    expect(first?.ms).toBeLessThan(6000)
    // The second call starts after the deadline: it fails without reaching the server.
    expect(isTimeoutError(second?.error)).toBe(true)
    expect(second?.ms).toBeLessThan(1000)
    expect(hits).toBe(1)
  })
})

describe('retries inside a request', () => {
  it('a Retry-After longer than the request deadline leaves fails at once, no sleep', async () => {
    let hits = 0
    const busy = await start(
      new Hono().get('/busy', (ctx) => {
        hits++
        return ctx.body(null, 503, { 'retry-after': '2' })
      }),
    )
    const a = await start(
      new Hono().use(sturdy(deadline({ budgetMs: 1000 }))).get('/a', async (ctx) => {
        const started = performance.now()
        const res = await client.fetch(`${busy}/busy`, { context: ctx, retry: undefined })
        return ctx.json({ status: res.status, ms: performance.now() - started })
      }),
    )
    const retrying = createClient({ retry: { baseDelayMs: 1 } })
    const b = await start(
      new Hono().use(sturdy(deadline({ budgetMs: 1500 }))).get('/b', async (ctx) => {
        const started = performance.now()
        const res = await retrying.fetch(`${busy}/busy`, { context: ctx })
        return ctx.json({ status: res.status, ms: performance.now() - started })
      }),
    )
    expect(((await (await fetch(`${a}/a`)).json()) as { status: number }).status).toBe(503)
    const out = (await (await fetch(`${b}/b`)).json()) as { status: number; ms: number }
    await retrying.close()
    expect(out.status).toBe(503)
    expect(out.ms).toBeLessThan(1400) // it did not sleep the 2 s Retry-After
    expect(hits).toBe(2) // one call each: the retry gave up instead of sleeping 2 s
  })
})

describe('helpers', () => {
  it('outgoingContext reads any shape of request values', () => {
    const record = { signal: AbortSignal.abort(), deadline: 5, trace: TRACE, requestId: 'r' }
    const map = new Map<string, unknown>(Object.entries(record))
    expect(outgoingContext(record)).toEqual(record)
    expect(outgoingContext(map)).toEqual(record)
    expect(outgoingContext(undefined)).toEqual({
      signal: undefined,
      deadline: undefined,
      trace: undefined,
      requestId: undefined,
    })
  })

  it('stampTrace writes traceparent, and tracestate only when there is one', () => {
    const h: Record<string, string> = {}
    expect(stampTrace(h, { ...TRACE, traceState: '' })).toBe(true)
    expect(h).toEqual({ traceparent: traceparentOf(TRACE) })
    expect(stampTrace(h, TRACE)).toBe(false) // a traceparent is there already
    expect(stampTrace({}, { ...TRACE, traceId: 'zz' })).toBe(false)
    expect(traceparentOf({ ...TRACE, traceFlags: 0 })).toMatch(/-00$/)
  })
})
