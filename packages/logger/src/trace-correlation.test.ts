import type { Span } from '@opentelemetry/api'
import { context, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  AlwaysOffSampler,
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import type { Middleware, TraceContext } from '@sturdy/core'
import { VALUES } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { formatTraceFlags, requestLogger } from './index.ts'
import { capture, sequentialIds } from './testing.ts'

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const unsampled = new BasicTracerProvider({ sampler: new AlwaysOffSampler() })

afterEach(() => exporter.reset())

/**
 * What `@sturdy/tracing` does, reduced to the contract the logger relies on: start a
 * real SDK span and share its ids as `VALUES.trace` before calling `next()`.
 */
function spanPerRequest(tracerProvider: BasicTracerProvider): Middleware<{ trace: TraceContext }> {
  const tracer = tracerProvider.getTracer('test')
  return async function spanMiddleware(ex, next) {
    const span = tracer.startSpan(`${ex.method} ${ex.path}`)
    ex.set(VALUES.trace, span.spanContext())
    try {
      await next()
    } finally {
      span.end()
    }
  }
}

describe('trace correlation', () => {
  it('binds trace_id, span_id and trace_flags of the real span once, on every line', async () => {
    const out = capture()
    const app = new Hono().use(
      sturdy(
        spanPerRequest(provider),
        requestLogger({ logger: out.logger, generateRequestId: sequentialIds() }),
      ),
    )
    app.get('/orders/:id', (c) => {
      c.var.log.info('handling')
      return c.text('ok')
    })
    await app.request('/orders/1')
    const [span] = exporter.getFinishedSpans()
    expect(span).toBeDefined()
    const ids = span?.spanContext() as TraceContext
    expect(ids.traceId).toMatch(/^[0-9a-f]{32}$/)
    expect(out.raw).toHaveLength(2)
    for (const line of out.lines()) {
      expect(line).toMatchObject({
        req_id: 'id-1',
        trace_id: ids.traceId,
        span_id: ids.spanId,
        trace_flags: '01',
      })
    }
    for (const text of out.raw) {
      for (const key of ['req_id', 'trace_id', 'span_id', 'trace_flags']) {
        expect(text.split(`"${key}":`)).toHaveLength(2)
      }
    }
  })

  it('logs trace_flags 00 for an unsampled span, as instrumentation-pino does', async () => {
    const out = capture()
    const app = new Hono().use(
      sturdy(spanPerRequest(unsampled), requestLogger({ logger: out.logger })),
    )
    app.get('/', (c) => c.text('ok'))
    await app.request('/')
    const [line] = out.lines()
    expect(line?.trace_flags).toBe('00')
    expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/)
  })

  it('binds no trace keys without a span, or with an invalid span context', async () => {
    const out = capture()
    const invalid: Middleware = async (ex, next) => {
      ex.set(VALUES.trace, trace.wrapSpanContext(INVALID_SPAN_CONTEXT).spanContext())
      await next()
    }
    const plain = new Hono().use(sturdy(requestLogger({ logger: out.logger })))
    plain.get('/', (c) => c.text('ok'))
    const withInvalid = new Hono().use(sturdy(invalid, requestLogger({ logger: out.logger })))
    withInvalid.get('/', (c) => c.text('ok'))
    await plain.request('/')
    await withInvalid.request('/')
    for (const line of out.lines()) {
      expect(Object.keys(line).filter((k) => k.startsWith('trace') || k === 'span_id')).toEqual([])
    }
  })

  it('mount order matters: a span started inside the logger is not on its lines', async () => {
    const out = capture()
    const app = new Hono().use(
      sturdy(requestLogger({ logger: out.logger }), spanPerRequest(provider)),
    )
    app.get('/', (c) => c.text('ok'))
    await app.request('/')
    expect(exporter.getFinishedSpans()).toHaveLength(1)
    expect(out.lines()[0]).not.toHaveProperty('trace_id')
  })

  it('falls back to traceContext() (instrumentation-http style: the active span)', async () => {
    const manager = new AsyncLocalStorageContextManager().enable()
    context.setGlobalContextManager(manager)
    try {
      const out = capture()
      const app = new Hono().use(
        sturdy(
          requestLogger({
            logger: out.logger,
            traceContext: () => trace.getActiveSpan()?.spanContext(),
          }),
        ),
      )
      app.get('/', (c) => {
        c.var.log.info('inside')
        return c.text('ok')
      })
      // As instrumentation-http does: the server span is active around the whole handler.
      const span: Span = provider.getTracer('http').startSpan('GET')
      await context.with(trace.setSpan(ROOT_CONTEXT, span), () => app.request('/'))
      span.end()
      const ids = span.spanContext()
      for (const line of out.lines()) {
        expect(line).toMatchObject({ trace_id: ids.traceId, span_id: ids.spanId })
      }
      // The Exchange value wins over the fallback when both exist.
      const out2 = capture()
      const both = new Hono().use(
        sturdy(
          spanPerRequest(provider),
          requestLogger({
            logger: out2.logger,
            traceContext: () => trace.getActiveSpan()?.spanContext(),
          }),
        ),
      )
      both.get('/', (c) => c.text('ok'))
      const outer = provider.getTracer('http').startSpan('GET')
      await context.with(trace.setSpan(ROOT_CONTEXT, outer), () => both.request('/'))
      outer.end()
      expect(out2.lines()[0]?.span_id).not.toBe(outer.spanContext().spanId)
      expect(out2.lines()[0]?.trace_id).toMatch(/^[0-9a-f]{32}$/)
    } finally {
      context.disable()
    }
  })

  it('formats trace flags as two hex digits', () => {
    expect([0, 1, 2, 255].map(formatTraceFlags)).toEqual(['00', '01', '02', 'ff'])
  })
})
