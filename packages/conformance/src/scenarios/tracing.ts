/** `@sturdy/tracing`: one SERVER span per request, named by route, parented by the caller. */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import type { TraceContext } from '@sturdy/core'
import { tracing } from '@sturdy/tracing'
import { expect } from 'vitest'
import { withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const CALLER_SPAN = '00f067aa0ba902b7'

function summary(span: ReadableSpan) {
  return {
    name: span.name,
    kind: span.kind,
    traceId: span.spanContext().traceId,
    parent: span.parentSpanContext?.spanId,
    route: span.attributes['http.route'],
    status: span.attributes['http.response.status_code'],
    code: span.status.code,
    exceptions: span.events
      .filter((e) => e.name === 'exception')
      .map((e) => e.attributes?.['exception.message']),
  }
}

export const tracingScenarios: Scenario[] = [
  {
    name: 'tracing: SERVER span named METHOD route, child of the caller, parent of handler spans',
    async run(adapter) {
      const exporter = new InMemorySpanExporter()
      const provider = new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      })
      const tracer = provider.getTracer('handler')
      const shared: Array<TraceContext | undefined> = []
      await withServer(
        adapter,
        {
          middleware: [
            tracing({ tracerProvider: provider, propagator: new W3CTraceContextPropagator() }),
          ],
          routes: [
            {
              method: 'GET',
              path: '/users/:id',
              handler: () => {
                tracer.startSpan('load user').end()
                return { json: { ok: true } }
              },
            },
            {
              method: 'GET',
              prefix: '/api',
              path: '/orders/:id',
              handler: async (c) => {
                shared.push(c.value('trace') as TraceContext | undefined)
                await new Promise((r) => setImmediate(r))
                tracer.startSpan('load order').end()
                return { json: { ok: true } }
              },
            },
            {
              method: 'GET',
              path: '/boom',
              handler: () => {
                throw new Error('boom')
              },
            },
          ],
        },
        async (url) => {
          const traceparent = `00-${TRACE_ID}-${CALLER_SPAN}-01`
          await (await fetch(`${url}/users/7`, { headers: { traceparent } })).arrayBuffer()
          await (await fetch(`${url}/api/orders/1`)).arrayBuffer()
          await (await fetch(`${url}/boom`)).arrayBuffer()
          await (await fetch(`${url}/nope`)).arrayBuffer()
          const spans = exporter.getFinishedSpans()
          const [loadUser, userSpan, loadOrder, orderSpan, boomSpan, nopeSpan] = spans
          expect(spans.map(summary)).toEqual([
            {
              ...summary(loadUser as ReadableSpan),
              name: 'load user',
              kind: SpanKind.INTERNAL,
              parent: userSpan?.spanContext().spanId,
            },
            {
              name: 'GET /users/:id',
              kind: SpanKind.SERVER,
              traceId: TRACE_ID,
              parent: CALLER_SPAN,
              route: '/users/:id',
              status: 200,
              code: SpanStatusCode.UNSET,
              exceptions: [],
            },
            {
              ...summary(loadOrder as ReadableSpan),
              name: 'load order',
              parent: orderSpan?.spanContext().spanId,
            },
            expect.objectContaining({
              name: 'GET /api/orders/:id',
              parent: undefined,
              route: '/api/orders/:id',
            }),
            expect.objectContaining({
              name: 'GET /boom',
              status: 500,
              code: SpanStatusCode.ERROR,
              exceptions: ['boom'],
            }),
            expect.objectContaining({
              name: 'GET',
              route: undefined,
              status: 404,
              code: SpanStatusCode.UNSET,
            }),
          ])
          expect(loadUser?.spanContext().traceId).toBe(TRACE_ID)
          expect(shared).toEqual([
            expect.objectContaining({
              traceId: orderSpan?.spanContext().traceId,
              spanId: orderSpan?.spanContext().spanId,
            }),
          ])
          expect(boomSpan && nopeSpan).toBeTruthy()
        },
      )
      await provider.shutdown()
    },
  },
]
