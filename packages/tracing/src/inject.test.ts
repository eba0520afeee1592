import { context, defaultTextMapGetter, propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import type { TraceContext } from '@sturdy/core'
import { afterAll, describe, expect, it } from 'vitest'
import { contextFrom, injectTraceHeaders } from './index.ts'
import { registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
afterAll(() => otel.unregister())

const ids: TraceContext = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
}
const TRACEPARENT = `00-${ids.traceId}-${ids.spanId}-01`

describe('injectTraceHeaders()', () => {
  it('writes traceparent from a TraceContext into Fetch Headers', () => {
    const headers = injectTraceHeaders(new Headers({ accept: 'application/json' }), ids)
    expect(headers.get('traceparent')).toBe(TRACEPARENT)
    expect(headers.get('accept')).toBe('application/json')
  })

  it('writes into a plain record and replaces other spellings instead of duplicating', () => {
    const headers = injectTraceHeaders({ Traceparent: 'stale', 'x-id': '1' }, ids)
    expect(headers).toEqual({ traceparent: TRACEPARENT, 'x-id': '1' })
  })

  it('uses the active context by default (the SDK context manager), with baggage', () => {
    const tracer = otel.provider.getTracer('t')
    const bag = propagation.createBaggage({ tenant: { value: 'acme' } })
    const headers = context.with(propagation.setBaggage(context.active(), bag), () =>
      tracer.startActiveSpan('op', (span) => {
        const h = injectTraceHeaders({})
        span.end()
        return h
      }),
    )
    const [span] = otel.spans()
    expect(headers).toEqual({
      traceparent: `00-${span?.spanContext().traceId}-${span?.spanContext().spanId}-01`,
      baggage: 'tenant=acme',
    })
  })

  it('accepts an OpenTelemetry Context', () => {
    const headers = injectTraceHeaders(new Headers(), contextFrom(ids, ROOT_CONTEXT))
    expect(headers.get('traceparent')).toBe(TRACEPARENT)
  })

  it('never writes an empty tracestate (an incoming one whose entries were all invalid)', () => {
    const w3c = new W3CTraceContextPropagator()
    const extracted = w3c.extract(
      ROOT_CONTEXT,
      { traceparent: TRACEPARENT, tracestate: ',' },
      defaultTextMapGetter,
    )
    expect(injectTraceHeaders({ tracestate: 'stale' }, extracted, w3c)).toEqual({
      traceparent: TRACEPARENT,
    })
    const headers = injectTraceHeaders(new Headers({ tracestate: 'stale' }), extracted, w3c)
    expect(headers.has('tracestate')).toBe(false)
  })

  it('carries a TraceContext’s tracestate', () => {
    expect(injectTraceHeaders({}, { ...ids, traceState: 'vendor=abc' })).toEqual({
      traceparent: TRACEPARENT,
      tracestate: 'vendor=abc',
    })
  })

  it('writes nothing when there is no span to propagate', () => {
    expect(injectTraceHeaders({}, ROOT_CONTEXT)).toEqual({})
    expect(injectTraceHeaders({})).toEqual({})
  })

  it('takes an explicit propagator, and round-trips through it', () => {
    const w3c = new W3CTraceContextPropagator()
    const headers = injectTraceHeaders({}, { ...ids, traceFlags: 0 }, w3c)
    const extracted = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, headers, defaultTextMapGetter))
    expect(extracted).toMatchObject({ ...ids, traceFlags: 0, isRemote: true })
  })
})

describe('contextFrom()', () => {
  it('makes spans started in it children of the TraceContext’s span', () => {
    const span = otel.provider.getTracer('t').startSpan('child', {}, contextFrom(ids))
    span.end()
    expect(otel.spans().at(-1)?.parentSpanContext?.spanId).toBe(ids.spanId)
    expect(otel.spans().at(-1)?.spanContext().traceId).toBe(ids.traceId)
  })

  it('keeps the base context’s other values', () => {
    const key = Symbol('k')
    const ctx = contextFrom(ids, context.active().setValue(key, 'v'))
    expect(ctx.getValue(key)).toBe('v')
  })
})
