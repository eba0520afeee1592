import { Writable } from 'node:stream'
import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { VALUES } from '@sturdy/core'
import { rpcLogger } from '@sturdy/logger'
import { rpcMetrics } from '@sturdy/metrics'
import { rpcSpans } from '@sturdy/tracing'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import {
  clientDeadline,
  clientObservers,
  clientRetry,
  serverDeadline,
  serverErrors,
  serverObservers,
} from './index.ts'
import type { TestServer } from './testing.ts'
import { startServer } from './testing.ts'
import { valuesOf } from './values.ts'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** `name{labels} value` lines of a Prometheus text exposition. */
function samples(
  text: string,
  name: string,
): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = []
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{(.*)\} (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const labels: Record<string, string> = {}
    for (const pair of (m[2] as string).matchAll(/(\w+)="([^"]*)"/g)) {
      labels[pair[1] as string] = pair[2] as string
    }
    out.push({ labels, value: Number(m[3]) })
  }
  return out
}

describe('RPC observers on a real server and client', () => {
  it('records metrics, spans and access lines with the right names and labels', async () => {
    const exporter = new InMemorySpanExporter()
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    })
    const propagator = new W3CTraceContextPropagator()
    const registry = new Registry()
    const lines: Array<Record<string, unknown>> = []
    const logger = pino(
      { level: 'debug' },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(JSON.parse(String(chunk)))
          done()
        },
      }),
    )
    const handlerSaw: Array<Record<string, unknown>> = []
    let unavailable = 1
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          echo(req, ctx) {
            const values = valuesOf(ctx)
            handlerSaw.push({ trace: values[VALUES.trace], requestId: values[VALUES.requestId] })
            ;(values[VALUES.log] as pino.Logger).info('inside the handler')
            if (req.text === 'fail') throw new Error('secret')
            if (req.text === 'flaky' && unavailable-- > 0) {
              throw new ConnectError('later', Code.Unavailable)
            }
            return { text: req.text }
          },
        }),
      {
        interceptors: [
          serverObservers(
            rpcSpans({ tracerProvider, propagator }),
            rpcMetrics({ registry }),
            rpcLogger({ logger }),
          ),
          serverDeadline(),
          serverErrors(),
        ],
      },
    )
    const clientInterceptors = [
      clientRetry({ baseDelayMs: 1, maxDelayMs: 2 }),
      clientObservers(rpcSpans({ tracerProvider, propagator }), rpcMetrics({ registry })),
      clientDeadline(),
    ]
    const grpc = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: clientInterceptors }),
    )
    const connect = createClient(
      EchoService,
      createConnectTransport({
        baseUrl: server.baseUrl,
        httpVersion: '2',
        interceptors: clientInterceptors,
      }),
    )

    await grpc.echo({ text: 'hi' }, { headers: { 'x-request-id': 'req-42' } })
    await grpc.echo({ text: 'fail' }).catch(() => {})
    await grpc.echo({ text: 'flaky' })
    await connect.echo({ text: 'hi' })

    // Metrics: OpenTelemetry's RPC names, bounded labels.
    const text = await registry.metrics()
    const serverCounts = samples(text, 'rpc_server_call_duration_seconds_count')
    const method = 'sturdy.test.v1.EchoService/Echo'
    const count = (system: string, code: string) =>
      serverCounts.find(
        (s) =>
          s.labels.rpc_system_name === system &&
          s.labels.rpc_method === method &&
          s.labels.rpc_response_status_code === code,
      )?.value
    expect(count('grpc', 'OK')).toBe(2)
    expect(count('grpc', 'INTERNAL')).toBe(1)
    expect(count('grpc', 'UNAVAILABLE')).toBe(1)
    expect(count('connectrpc', 'OK')).toBe(1)
    const clientCounts = samples(text, 'rpc_client_call_duration_seconds_count')
    expect(clientCounts).toContainEqual({
      labels: {
        rpc_system_name: 'grpc',
        rpc_method: method,
        rpc_response_status_code: 'UNAVAILABLE',
        server_address: '127.0.0.1',
        server_port: String(server.port),
      },
      value: 1,
    })
    expect(clientCounts.reduce((n, s) => n + s.value, 0)).toBe(5) // 4 calls, one retried

    // Spans: a CLIENT span per attempt, the SERVER span its child over the wire.
    const spans = exporter.getFinishedSpans()
    const serverSpans = spans.filter((s) => s.kind === SpanKind.SERVER)
    const clientSpans = spans.filter((s) => s.kind === SpanKind.CLIENT)
    expect(serverSpans).toHaveLength(5)
    expect(clientSpans).toHaveLength(5)
    for (const s of serverSpans) {
      expect(s.name).toBe(method)
      const parent = clientSpans.find((c) => c.spanContext().spanId === s.parentSpanContext?.spanId)
      expect(parent?.spanContext().traceId).toBe(s.spanContext().traceId)
    }
    const failed = serverSpans.find((s) => s.attributes['rpc.response.status_code'] === 'INTERNAL')
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR)
    expect(failed?.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': method,
      'error.type': 'INTERNAL',
    })
    const retried = clientSpans.find((s) => s.events.some((e) => e.name === 'sturdy.retry'))
    expect(retried?.attributes).toMatchObject({
      'server.address': '127.0.0.1',
      'server.port': server.port,
      'rpc.response.status_code': 'OK',
    })

    // Logs: one access line per call, with the request id and the trace ids; the
    // handler's lines carry the same.
    const access = lines.filter((l) => typeof l.code === 'string' && l.rpc_method === method)
    expect(access).toHaveLength(5)
    const first = access[0] as Record<string, unknown>
    expect(first).toMatchObject({
      req_id: 'req-42',
      code: 'OK',
      rpc_system: 'grpc',
      msg: 'call completed',
    })
    const firstServer = serverSpans[0]?.spanContext()
    expect(first.trace_id).toBe(firstServer?.traceId)
    expect(first.span_id).toBe(firstServer?.spanId)
    const internalLine = access.find((l) => l.code === 'INTERNAL')
    expect(internalLine?.level).toBe(50)
    expect(internalLine?.msg).toBe('call failed')
    const inside = lines.filter((l) => l.msg === 'inside the handler')
    expect(inside[0]).toMatchObject({ req_id: 'req-42', trace_id: firstServer?.traceId })
    expect(handlerSaw[0]).toMatchObject({ requestId: 'req-42' })
  })
})
