import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { sturdy } from '@sturdy/hono'
import { tracing } from '@sturdy/tracing'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { requestLogger } from './index.ts'
import { capture } from './testing.ts'

describe('with @sturdy/tracing mounted outside the logger', () => {
  it('logs the ids of the SERVER span the tracing middleware started', async () => {
    const exporter = new InMemorySpanExporter()
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    })
    const out = capture()
    const app = new Hono().use(
      sturdy(tracing({ tracerProvider: provider }), requestLogger({ logger: out.logger })),
    )
    app.get('/users/:id', (c) => {
      c.var.log.info('inside')
      return c.text('ok')
    })
    await app.request('/users/7')
    const spans = exporter.getFinishedSpans()
    expect(spans).toHaveLength(1)
    const ids = spans[0]?.spanContext()
    expect(out.raw).toHaveLength(2)
    for (const line of out.lines()) {
      expect(line).toMatchObject({
        trace_id: ids?.traceId,
        span_id: ids?.spanId,
        trace_flags: '01',
      })
    }
    expect(out.lines()[1]).toMatchObject({ route: '/users/:id', status: 200 })
  })
})
