/**
 * Compatibility with the real `@opentelemetry/instrumentation-http`: in `'auto'` mode
 * there is one SERVER span per request, the instrumentation's, enriched with the route
 * — and the route reaches the instrumentation's own `http.server.request.duration`
 * metric through the RPC metadata context key, which `rpc-metadata.ts` rebuilds from an
 * internal description string. If that string ever changes upstream, this file fails.
 *
 * The instrumentation patches `node:http` when it is required after registration, so
 * the order below matters: SDK, instrumentation, `require('node:http')`, and only then
 * `@hono/node-server` (imported dynamically).
 */

import type * as NodeHttp from 'node:http'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import type { Attributes, Histogram, Meter, MeterProvider } from '@opentelemetry/api'
import { context, createNoopMeter, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import { getRPCMetadata } from '@opentelemetry/core'
import { registerInstrumentations } from '@opentelemetry/instrumentation'
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http'
import type { Middleware, TraceContext } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { injectTraceHeaders, tracing } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
const recorded: Array<{ name: string; attributes: Attributes | undefined }> = []
const instrumentation = new HttpInstrumentation()
const unregisterInstrumentations = registerInstrumentations({
  instrumentations: [instrumentation],
  meterProvider: recordingMeterProvider(),
})
const nodeHttp = createRequire(import.meta.url)('node:http') as typeof NodeHttp
const { serve } = await import('@hono/node-server')

const servers: Server[] = []

async function start(mw: Middleware<{ trace: TraceContext }>): Promise<string> {
  const app = new Hono().use(sturdy(mw))
  app.get('/users/:id', async (c) => {
    await trace.getTracer('app').startActiveSpan('load-user', async (span) => span.end())
    return c.json({
      trace: c.var.trace ?? null,
      rpcType: getRPCMetadata(context.active())?.type ?? null,
    })
  })
  app.get('/fail/:id', () => {
    throw new Error('handler failed')
  })
  app.get('/echo-traceparent', (c) => c.text(c.req.header('traceparent') ?? ''))
  // Calls the echo route of another service through node:http, which the instrumentation
  // patches: it makes the CLIENT span, and our injected header must not be duplicated.
  app.get('/call', async (c) => {
    const target = new URL(c.req.query('to') ?? '')
    const headers = injectTraceHeaders({ Traceparent: 'stale' }, c.var.trace)
    const body = await new Promise<string>((resolve, reject) => {
      nodeHttp
        .get(target, { headers }, (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            text += chunk
          })
          res.on('end', () => resolve(text))
        })
        .on('error', reject)
    })
    return c.text(body)
  })
  // Hono's default handler would print the stack; the span is what this test reads.
  app.onError((_error, c) => c.text('failed', 500))
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  servers.push(server)
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** The instrumentation ends its span on the response's `close`, just after the client has the body. */
async function settled(count: number): Promise<void> {
  for (
    let i = 0;
    i < 600 && otel.spans().filter((s) => s.kind === SpanKind.SERVER).length < count;
    i++
  ) {
    await new Promise((r) => setTimeout(r, 5))
  }
}

beforeAll(() => {
  expect(instrumentation.isEnabled()).toBe(true)
})
beforeEach(() => {
  otel.exporter.reset()
  recorded.length = 0
})
afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
  unregisterInstrumentations()
  await otel.unregister()
})

describe("with instrumentation-http registered, 'auto' mode", () => {
  it('an outgoing call gets one CLIENT span (the instrumentation’s) and one traceparent', async () => {
    const back = await start(tracing())
    const front = await start(tracing())
    const res = await fetch(`${front}/call?to=${encodeURIComponent(`${back}/echo-traceparent`)}`)
    const received = await res.text()
    await settled(2)
    const spans = otel.spans()
    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT)
    expect(clients).toHaveLength(1)
    const [frontSpan, backSpan] = ['GET /call', 'GET /echo-traceparent'].map((name) =>
      spans.find((s) => s.kind === SpanKind.SERVER && s.name === name),
    )
    // front SERVER -> instrumentation's CLIENT -> back SERVER, one trace, one header value.
    expect(clients[0]?.parentSpanContext?.spanId).toBe(frontSpan?.spanContext().spanId)
    expect(backSpan?.parentSpanContext?.spanId).toBe(clients[0]?.spanContext().spanId)
    expect(backSpan?.spanContext().traceId).toBe(frontSpan?.spanContext().traceId)
    expect(received).toBe(
      `00-${clients[0]?.spanContext().traceId}-${clients[0]?.spanContext().spanId}-01`,
    )
  })

  it('enriches the instrumentation’s SERVER span instead of nesting a second one', async () => {
    const base = await start(tracing())
    const res = await fetch(`${base}/users/7`)
    const body = (await res.json()) as { trace: TraceContext; rpcType: string | null }
    await settled(1)
    const server = otel.spans().filter((s) => s.kind === SpanKind.SERVER)
    expect(server).toHaveLength(1)
    const span = server[0]
    expect(span?.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http')
    expect(span?.name).toBe('GET /users/:id')
    expect(span?.attributes['http.route']).toBe('/users/:id')
    // The ids handlers see are the instrumentation span's, and their spans are its children.
    expect(body.rpcType).toBe('http')
    expect(body.trace.spanId).toBe(span?.spanContext().spanId)
    const child = otel.spans().find((s) => s.name === 'load-user')
    expect(child?.parentSpanContext?.spanId).toBe(span?.spanContext().spanId)
  })

  it('hands the route to the instrumentation’s http.server.request.duration metric', async () => {
    const base = await start(tracing())
    await (await fetch(`${base}/users/8`)).arrayBuffer()
    await settled(1)
    const metric = recorded.find((r) => r.name === 'http.server.request.duration')
    expect(metric?.attributes).toMatchObject({
      'http.request.method': 'GET',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
    })
  })

  it('records the exception Hono swallowed on the instrumentation’s span', async () => {
    const base = await start(tracing())
    expect((await fetch(`${base}/fail/1`)).status).toBe(500)
    await settled(1)
    const [span] = otel.spans().filter((s) => s.kind === SpanKind.SERVER)
    expect(span?.name).toBe('GET /fail/:id')
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    // The instrumentation puts error.type on its metric only; the span gets it from us.
    expect(span?.attributes['error.type']).toBe('500')
    expect(span?.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([
      ['exception', 'handler failed'],
    ])
  })

  it('leaves unmatched requests to the instrumentation (no route, method-only name)', async () => {
    const base = await start(tracing())
    expect((await fetch(`${base}/nowhere`)).status).toBe(404)
    await settled(1)
    const [span] = otel.spans().filter((s) => s.kind === SpanKind.SERVER)
    expect(span?.name).toBe('GET')
    expect(span?.attributes['http.route']).toBeUndefined()
  })

  it("'enrich-only' behaves the same when the instrumentation is there", async () => {
    const base = await start(tracing({ mode: 'enrich-only' }))
    await (await fetch(`${base}/users/9`)).arrayBuffer()
    await settled(1)
    expect(
      otel
        .spans()
        .filter((s) => s.kind === SpanKind.SERVER)
        .map((s) => s.name),
    ).toEqual(['GET /users/:id'])
  })

  it("'always-new' nests its own SERVER span under the instrumentation's (the duplicate 'auto' avoids)", async () => {
    const base = await start(tracing({ mode: 'always-new' }))
    await (
      await fetch(`${base}/users/10`, {
        headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
      })
    ).arrayBuffer()
    await settled(2)
    const server = otel.spans().filter((s) => s.kind === SpanKind.SERVER)
    expect(server).toHaveLength(2)
    const ours = server.find((s) => s.instrumentationScope.name === '@sturdy/tracing')
    const theirs = server.find(
      (s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-http',
    )
    // Nested under the instrumentation's span, not a sibling under the remote caller.
    expect(ours?.parentSpanContext?.spanId).toBe(theirs?.spanContext().spanId)
    expect(theirs?.parentSpanContext?.spanId).toBe('b'.repeat(16))
  })
})

/**
 * A MeterProvider through the API interface alone that records histogram observations,
 * so the test reads what the instrumentation reports without an SDK metrics package.
 */
function recordingMeterProvider(): MeterProvider {
  const noop = createNoopMeter()
  const meter: Meter = Object.assign(Object.create(noop) as Meter, {
    createHistogram(name: string): Histogram {
      return {
        record(_value: number, attributes?: Attributes) {
          recorded.push({ name, attributes })
        },
      }
    },
  })
  return { getMeter: () => meter }
}
