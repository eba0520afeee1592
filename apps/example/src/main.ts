// The SDK is registered first, so everything after it runs with a tracer provider, the
// AsyncLocalStorage context manager and the W3C propagator. The packages never need it.
import { ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'

const tracerProvider = new NodeTracerProvider({
  // Spans are printed only when asked (OTEL_TRACES_EXPORTER=console); point a real
  // exporter (OTLP) here in production.
  spanProcessors:
    process.env.OTEL_TRACES_EXPORTER === 'console'
      ? [new SimpleSpanProcessor(new ConsoleSpanExporter())]
      : [],
})
tracerProvider.register()

const { serve } = await import('@hono/node-server')
const { pino } = await import('pino')
const { serveMetrics } = await import('@sturdy/metrics')
const { createApp } = await import('./app.ts')
const { memoryStore } = await import('./store.ts')

const port = Number(process.env.PORT ?? 3000)
const hostname = process.env.HOST ?? '127.0.0.1'
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' })
const shutdown = new AbortController()

const service = createApp({
  store: memoryStore([{ id: '1', name: 'Ada Lovelace', email: 'ada@example.com' }]),
  logger,
  shutdown: shutdown.signal,
})

// As in the article, metrics can live on their own port (METRICS_PORT=9090); they are
// always on /metrics of the main port too.
const metricsServer =
  process.env.METRICS_PORT === undefined
    ? undefined
    : await serveMetrics({
        registry: service.registry,
        port: Number(process.env.METRICS_PORT),
        host: hostname,
      })

const server = serve({ fetch: service.app.fetch, port, hostname }, (info) => {
  console.log(`sturdy example listening on http://${hostname}:${info.port}`)
  console.log(`  try: curl http://${hostname}:${info.port}/users/1`)
  console.log(`       curl http://${hostname}:${info.port}/metrics`)
  if (metricsServer !== undefined) console.log(`  metrics also on ${metricsServer.url}`)
})

// Stop accepting, cancel in-flight work (503), flush, exit; a second signal forces it.
let stopping = false
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(1)
    stopping = true
    shutdown.abort()
    service.close()
    void metricsServer?.close()
    server.close(() => {
      void tracerProvider.shutdown().finally(() => process.exit(0))
    })
  })
}
