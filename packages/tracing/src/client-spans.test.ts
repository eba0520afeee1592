/**
 * `clientSpans()` with the real `@sturdy/client` and a real SDK: a CLIENT span per
 * attempt, `traceparent`/`tracestate` injected from it, the semconv attributes.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { createClient } from '@sturdy/client'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import pkg from '../package.json' with { type: 'json' }
import { clientSpans, tracing } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
const servers: Server[] = []
const seen: Array<Record<string, string | string[] | undefined>> = []
let failNext = 0

const upstream = createServer((req, res) => {
  seen.push(req.headers)
  if (failNext > 0) {
    failNext--
    res.writeHead(503, { 'content-length': '0' })
    res.end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ ok: true }))
})
servers.push(upstream)
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
const client = createClient({
  interceptors: [clientSpans()],
  retry: { baseDelayMs: 1, jitter: 'none' },
})

afterAll(async () => {
  await client.close()
  for (const s of servers) await new Promise((r) => s.close(r))
  await otel.unregister()
})
beforeEach(() => {
  otel.exporter.reset()
  seen.length = 0
})

async function startApp(app: {
  fetch: (r: Request) => Response | Promise<Response>
}): Promise<string> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  servers.push(server)
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const INBOUND_TRACE = '0af7651916cd43dd8448eb211c80319c'

describe('clientSpans()', () => {
  it('three calls from one traced request: one trace, three parents, the inbound tracestate', async () => {
    const app = new Hono().use(sturdy(tracing())).get('/orders', async (c) => {
      for (const path of ['/a', '/b', '/c']) {
        await client.json(`${upstreamUrl}${path}?sig=secret&x=1`, { context: c })
      }
      return c.text('ok')
    })
    const url = await startApp(app)
    const res = await fetch(`${url}/orders`, {
      headers: {
        traceparent: `00-${INBOUND_TRACE}-b7ad6b7169203331-01`,
        tracestate: 'vendor=abc,other=1',
      },
    })
    expect(res.status).toBe(200)
    const spans = otel.spans()
    const server = spans.find((s) => s.kind === SpanKind.SERVER)
    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT)
    expect(clients).toHaveLength(3)
    const parents = seen.map((h) => String(h.traceparent).split('-')[2])
    expect(new Set(parents).size).toBe(3)
    expect(parents).toEqual(clients.map((s) => s.spanContext().spanId))
    for (const h of seen) {
      expect(String(h.traceparent).split('-')[1]).toBe(INBOUND_TRACE)
      expect(h.tracestate).toBe('vendor=abc,other=1')
    }
    for (const span of clients) {
      expect(span.parentSpanContext?.spanId).toBe(server?.spanContext().spanId)
      expect(span.name).toBe('GET')
      expect(span.attributes).toMatchObject({
        'http.request.method': 'GET',
        'server.address': '127.0.0.1',
        'server.port': (upstream.address() as AddressInfo).port,
        'http.response.status_code': 200,
      })
      expect(String(span.attributes['url.full'])).toMatch(/\?sig=REDACTED&x=1$/)
      expect(span.instrumentationScope).toMatchObject({
        name: '@sturdy/tracing',
        version: pkg.version,
      })
    }
  })

  it('without a context manager’s span, the parent comes from the request values', async () => {
    const trace = {
      traceId: INBOUND_TRACE,
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      traceState: 'v=1',
    }
    await context.with(ROOT_CONTEXT, () => client.json(`${upstreamUrl}/x`, { context: { trace } }))
    const [span] = otel.spans()
    expect(span?.spanContext().traceId).toBe(INBOUND_TRACE)
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331')
    expect(seen[0]?.tracestate).toBe('v=1')
  })

  it('a retried call: one span per attempt, resend_count and a retry event on the resend', async () => {
    failNext = 1
    await client.json(`${upstreamUrl}/retry`)
    const spans = otel.spans().filter((s) => s.kind === SpanKind.CLIENT)
    expect(spans).toHaveLength(2)
    const [first, second] = spans
    expect(first?.attributes).toMatchObject({
      'http.response.status_code': 503,
      'error.type': '503',
    })
    expect(first?.status.code).toBe(SpanStatusCode.ERROR)
    expect(first?.attributes['http.request.resend_count']).toBeUndefined()
    expect(second?.attributes).toMatchObject({
      'http.request.resend_count': 1,
      'http.response.status_code': 200,
    })
    expect(second?.events.map((e) => [e.name, e.attributes?.['error.type']])).toEqual([
      ['sturdy.retry', '503'],
    ])
    expect(new Set(seen.map((h) => h.traceparent)).size).toBe(2)
  })

  it('an attempt the open circuit refused: error.type and a sturdy.breaker.rejected event', async () => {
    const breaking = createClient({
      interceptors: [clientSpans()],
      retry: false,
      breaker: { openMs: 60_000, readyToTrip: () => true },
    })
    failNext = 1
    expect((await breaking.fetch(`${upstreamUrl}/x`)).status).toBe(503) // trips the breaker
    await breaking.fetch(`${upstreamUrl}/x`).catch(() => {})
    await breaking.close()
    const [, refused] = otel.spans()
    expect(refused?.attributes['error.type']).toBe('BrokenCircuitError')
    expect(refused?.events.map((e) => [e.name, e.attributes?.['sturdy.breaker.state']])).toEqual([
      ['sturdy.breaker.rejected', 'open'],
    ])
    expect(seen).toHaveLength(1) // nothing was sent
  })

  it('a failed attempt records its error.type (connection refused)', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    await client.json(`http://127.0.0.1:${port}/`, { retry: false }).catch(() => {})
    const [span] = otel.spans()
    expect(span?.attributes['error.type']).toBe('ECONNREFUSED')
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
  })
})
