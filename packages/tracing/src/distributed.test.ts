/**
 * Two real services on 127.0.0.1 (`@hono/node-server`, port 0) with the Node SDK
 * registered the way an application does it (`NodeTracerProvider.register()`): the
 * front service calls the back service with `injectTraceHeaders`, and both SERVER spans
 * land in one trace, parent and child. No http/undici instrumentation here, so Sturdy
 * makes the only spans: the front span is the back span's direct parent.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { context, propagation, SpanKind, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import type { TraceContext } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { injectTraceHeaders, tracing } from './index.ts'

const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
provider.register()

const servers: Server[] = []
let front = ''

async function listen(app: {
  fetch: (request: Request) => Response | Promise<Response>
}): Promise<string> {
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
  servers.push(server)
  await new Promise<void>((resolve) => server.once('listening', () => resolve()))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function handles(): number {
  return process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length
}
let handlesBefore = 0

beforeAll(async () => {
  handlesBefore = handles()
  const back = new Hono().use(sturdy(tracing()))
  back.get('/stock/:sku', (c) => c.json({ trace: c.var.trace }))
  const backUrl = await listen(back)

  const app = new Hono().use(sturdy(tracing()))
  // From the TraceContext on c.var: works with or without a context manager.
  app.get('/orders/:id', async (c) => {
    const headers = injectTraceHeaders(new Headers(), c.var.trace)
    const res = await fetch(`${backUrl}/stock/abc`, { headers })
    return c.json({
      front: c.var.trace,
      back: ((await res.json()) as { trace: TraceContext }).trace,
    })
  })
  // From the active context (the SDK's AsyncLocalStorage manager), into a plain record.
  app.get('/carts/:id', async (c) => {
    const res = await fetch(`${backUrl}/stock/xyz`, { headers: injectTraceHeaders({}) })
    return c.json({
      front: c.var.trace,
      back: ((await res.json()) as { trace: TraceContext }).trace,
    })
  })
  front = await listen(app)
})
beforeEach(() => exporter.reset())

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
  // undici's pooled client sockets see the server hang up a few ticks later.
  for (let i = 0; i < 500 && handles() > handlesBefore; i++) {
    await new Promise((r) => setTimeout(r, 10))
  }
  expect(process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'))).toHaveLength(
    handlesBefore,
  )
  trace.disable()
  context.disable()
  propagation.disable()
  await provider.shutdown()
})

describe('a trace across two services', () => {
  it.each([
    ['/orders/1', 'GET /orders/:id'],
    ['/carts/1', 'GET /carts/:id'],
  ])('links the back span to the front span (%s)', async (path, frontName) => {
    const res = await fetch(`${front}${path}`)
    const ids = (await res.json()) as { front: TraceContext; back: TraceContext }
    const spans = exporter.getFinishedSpans()
    const frontSpan = spans.find((s) => s.name === frontName)
    const backSpan = spans.find((s) => s.name === 'GET /stock/:sku')
    expect(frontSpan?.kind).toBe(SpanKind.SERVER)
    expect(backSpan?.kind).toBe(SpanKind.SERVER)
    expect(backSpan?.spanContext().traceId).toBe(frontSpan?.spanContext().traceId)
    expect(backSpan?.parentSpanContext?.spanId).toBe(frontSpan?.spanContext().spanId)
    expect(backSpan?.parentSpanContext?.isRemote).toBe(true)
    expect(frontSpan?.parentSpanContext).toBeUndefined()
    // What each service shared on its exchange is what it exported.
    expect(ids.front.spanId).toBe(frontSpan?.spanContext().spanId)
    expect(ids.back.spanId).toBe(backSpan?.spanContext().spanId)
    // Sturdy made no CLIENT span for the call.
    expect(spans.filter((s) => s.kind === SpanKind.CLIENT)).toEqual([])
  })

  it('continues a trace the caller of the front service started', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    await (
      await fetch(`${front}/orders/2`, {
        headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      })
    ).arrayBuffer()
    const spans = exporter.getFinishedSpans()
    expect(spans).toHaveLength(2)
    expect(spans.every((s) => s.spanContext().traceId === traceId)).toBe(true)
  })
})
