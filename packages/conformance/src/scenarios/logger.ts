/** `@sturdy/logger`: one access line per request with the same fields on every framework. */
import { Writable } from 'node:stream'
import { SpanKind } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import type { Exchange } from '@sturdy/core'
import { requestLogger } from '@sturdy/logger'
import { tracing } from '@sturdy/tracing'
import pino from 'pino'
import { expect } from 'vitest'
import { deferred, within, withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

function capture(): { logger: pino.Logger; lines(): Record<string, unknown>[] } {
  const raw: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') raw.push(line)
      callback()
    },
  })
  const logger = pino({ base: undefined, timestamp: false }, stream)
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

/** Resolves once `check()` holds, polling every few ms (bounded by the caller's `within`). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5))
}

/** Drops what legitimately varies: timing, and the body size each framework reports. */
function stable(line: Record<string, unknown>): Record<string, unknown> {
  const { duration_ms: duration, res_size: size, err, ...rest } = line
  if ('method' in line) expect(typeof duration).toBe('number')
  expect(size === undefined || typeof size === 'number').toBe(true)
  if (err !== undefined) {
    const { stack, ...error } = err as Record<string, unknown>
    expect(typeof stack).toBe('string')
    return { ...rest, err: error }
  }
  return rest
}

export const loggerScenarios: Scenario[] = [
  {
    name: 'logger: request id echoed, handler logs bound to it, one access line with the same fields',
    async run(adapter) {
      const { logger, lines } = capture()
      let n = 0
      await withServer(
        adapter,
        {
          middleware: [requestLogger({ logger, generateRequestId: () => `gen-${++n}` })],
          routes: [
            {
              method: 'GET',
              path: '/users/:id',
              handler: (c) => {
                const log = c.value('log') as pino.Logger
                log.info({ user: c.params.id }, 'loading user')
                return { json: { requestId: c.value('requestId') } }
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
          const ok = await fetch(`${url}/users/7`, { headers: { 'x-request-id': 'abc-123' } })
          expect(ok.headers.get('x-request-id')).toBe('abc-123')
          expect(await ok.json()).toEqual({ requestId: 'abc-123' })
          const boom = await fetch(`${url}/boom`)
          expect(boom.headers.get('x-request-id')).toBe('gen-1')
          await boom.arrayBuffer()
          await (await fetch(`${url}/nope`)).arrayBuffer()
          expect(lines().map(stable)).toEqual([
            { level: 30, req_id: 'abc-123', user: '7', msg: 'loading user' },
            {
              level: 30,
              req_id: 'abc-123',
              method: 'GET',
              route: '/users/:id',
              path: '/users/7',
              status: 200,
              msg: 'request completed',
            },
            {
              level: 50,
              req_id: 'gen-1',
              method: 'GET',
              route: '/boom',
              path: '/boom',
              status: 500,
              err: { type: 'Error', message: 'boom' },
              msg: 'request failed',
            },
            {
              level: 40,
              req_id: 'gen-2',
              method: 'GET',
              route: '__unmatched__',
              path: '/nope',
              status: 404,
              msg: 'request completed',
            },
          ])
        },
      )
    },
  },
  {
    name: 'logger: a client that went away is logged once as "request aborted", status 499',
    async run(adapter) {
      const { logger, lines } = capture()
      const started = deferred()
      const release = deferred()
      const logged = deferred()
      let exchange: Exchange | undefined
      await withServer(
        adapter,
        {
          middleware: [
            async function notify(ex, next) {
              exchange = ex
              try {
                await next()
              } finally {
                logged.resolve()
              }
            },
            requestLogger({ logger, generateRequestId: () => 'gone-1' }),
          ],
          routes: [
            {
              method: 'GET',
              path: '/hang/:id',
              handler: async () => {
                started.resolve()
                // Ignores the signal; finishes only when the test says so (Hono waits for
                // the handler, the node:http adapters unwind when the connection closes).
                await release.promise
                return { text: 'too late' }
              },
            },
          ],
        },
        async (url) => {
          const client = new AbortController()
          const pending = fetch(`${url}/hang/1`, { signal: client.signal }).catch(() => undefined)
          await within(started.promise, 2000, 'handler start')
          client.abort()
          await pending
          // Reading `aborted` creates no signal: it is what the logger itself reads.
          await within(
            until(() => exchange?.aborted === true),
            2000,
            'server sees the close',
          )
          release.resolve()
          await within(logged.promise, 2000, 'access line')
          expect(lines().map(stable)).toEqual([
            {
              level: 40,
              req_id: 'gone-1',
              method: 'GET',
              route: '/hang/:id',
              path: '/hang/1',
              status: 499,
              abort: 'client-disconnect',
              msg: 'request aborted',
            },
          ])
        },
      )
    },
  },
  {
    name: 'logger + tracing: the access line and handler logs carry the server span ids',
    async run(adapter) {
      const { logger, lines } = capture()
      const exporter = new InMemorySpanExporter()
      const provider = new BasicTracerProvider({
        spanProcessors: [new SimpleSpanProcessor(exporter)],
      })
      await withServer(
        adapter,
        {
          middleware: [
            tracing({ tracerProvider: provider, propagator: new W3CTraceContextPropagator() }),
            requestLogger({ logger }),
          ],
          routes: [
            {
              method: 'GET',
              path: '/users/:id',
              handler: (c) => {
                ;(c.value('log') as pino.Logger).info('in handler')
                return { text: 'ok' }
              },
            },
          ],
        },
        async (url) => {
          const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
          await (await fetch(`${url}/users/1`, { headers: { traceparent } })).arrayBuffer()
          const [span] = exporter.getFinishedSpans()
          expect(span?.kind).toBe(SpanKind.SERVER)
          const ids = {
            trace_id: span?.spanContext().traceId,
            span_id: span?.spanContext().spanId,
            trace_flags: '01',
          }
          expect(lines().map((l) => [l.msg, l.trace_id, l.span_id, l.trace_flags])).toEqual([
            ['in handler', ids.trace_id, ids.span_id, ids.trace_flags],
            ['request completed', ids.trace_id, ids.span_id, ids.trace_flags],
          ])
          expect(ids.trace_id).toBe('4bf92f3577b34da6a3ce929d0e0e4736')
        },
      )
      await provider.shutdown()
    },
  },
]
