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
const { lifecycle } = await import('@sturdy/lifecycle')
const { serveMetrics } = await import('@sturdy/metrics')
const { createApp } = await import('./app.ts')
const { memoryStore } = await import('./store.ts')

const port = Number(process.env.PORT ?? 3000)
const hostname = process.env.HOST ?? '127.0.0.1'
const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' })

// SIGTERM/SIGINT: /readyz fails at once, the server keeps serving while endpoints
// propagate (on Kubernetes), finishes what it accepted, closes what it holds, exits.
const life = lifecycle({
  drainDelayMs: Number(
    process.env.DRAIN_DELAY_MS ?? (process.env.KUBERNETES_SERVICE_HOST ? 5000 : 0),
  ),
  logger,
})
// Closed in reverse order: the observers, the metrics server, then the span flush.
life.onClose('telemetry', () => tracerProvider.shutdown())

const service = createApp({
  store: memoryStore([{ id: '1', name: 'Ada Lovelace', email: 'ada@example.com' }]),
  logger,
  lifecycle: life.middleware(),
  shutdown: life.signal,
})

// As in the article, metrics can live on their own port (METRICS_PORT=9090); they are
// always on /metrics of the main port too.
if (process.env.METRICS_PORT !== undefined) {
  const metricsServer = await serveMetrics({
    registry: service.registry,
    port: Number(process.env.METRICS_PORT),
    host: hostname,
  })
  life.onClose('metrics server', () => metricsServer.close())
  logger.info({ url: metricsServer.url }, 'metrics listening')
}
life.onClose('policy observers', () => service.close())

const server = serve({ fetch: service.app.fetch, port, hostname }, (info) => {
  const url = `http://${hostname}:${info.port}`
  logger.info(
    { url, try: [`${url}/users/1`, `${url}/readyz`, `${url}/metrics`], drainBoundMs: life.boundMs },
    'sturdy example listening',
  )
})
life.serve(server)
life.handleSignals()
