import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { httpMetrics } from './http-metrics.ts'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'

describe('exemplars from the active OpenTelemetry span (real SDK)', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const tracer = provider.getTracer('test')
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
  })
  afterAll(async () => {
    context.disable()
    await provider.shutdown()
  })

  it('links the request histogram to the trace through trace_id', async () => {
    const registry = new Registry()
    const app = new Hono()
    // The README recipe: read the span instrumentation-http (here: the test) started.
    app.use(
      sturdy(httpMetrics({ registry, traceContext: () => trace.getActiveSpan()?.spanContext() })),
    )
    app.get('/orders/:id', (c) => c.json({ ok: true }))

    const traceId = await tracer.startActiveSpan('GET', async (span) => {
      await app.request('/orders/7')
      span.end()
      return span.spanContext().traceId
    })
    await app.request('/orders/8') // no active span: no exemplar, no failure

    const { body } = await metricsHandler({ registry })('application/openmetrics-text')
    const exemplars = parseExposition(body)
      .samples.filter((s) => s.exemplar !== undefined)
      .map((s) => s.exemplar?.labels.trace_id)
    expect(exemplars).toEqual([traceId])
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toEqual([traceId])
  })
})
