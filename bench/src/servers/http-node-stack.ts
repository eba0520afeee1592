// Contender: the practical ceiling of the full stack — a minimal hand-written equivalent
// on raw node:http, with no framework and no middleware layer: a request id (reused when
// the caller sent a safe one, echoed), one pino line per request to the same file, the
// request-duration histogram observed on a cached prom-client child, a SERVER span from
// the same OpenTelemetry SDK (the caller's traceparent honoured, the handler run inside
// the span's context), and a 5 s deadline (setTimeout, cleared at the end; answers 504).
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { context, propagation, SpanKind, trace } from '@opentelemetry/api'
import { announce, port, user } from '../lib/entry.ts'
import { HEADER_GETTER, requestDuration, SAFE_ID } from '../lib/handwritten.ts'
import { fileLogger, logBytes } from '../lib/log.ts'
import { startSdk } from '../lib/otel.ts'

const ROUTE = /^\/users\/([^/?]+)$/
const sdk = startSdk()
const tracer = sdk.provider.getTracer('node-stack')
const log = fileLogger()
const duration = requestDuration()
const ok = duration.labels('GET', '/users/:id', '200')

const server = createServer((req, res) => {
  const start = performance.now()
  const incoming = req.headers['x-request-id']
  const id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID()
  const parent = propagation.extract(context.active(), req.headers, HEADER_GETTER)
  const span = tracer.startSpan(
    'GET /users/:id',
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method, 'url.path': req.url },
    },
    parent,
  )
  const timer = setTimeout(() => {
    if (!res.headersSent) res.writeHead(504).end()
  }, 5000)
  context.with(trace.setSpan(parent, span), () => {
    const m = req.method === 'GET' ? ROUTE.exec(req.url ?? '') : null
    const status = m === null ? 404 : 200
    if (m === null) res.writeHead(404, { 'x-request-id': id }).end()
    else {
      const body = JSON.stringify(user(m[1] as string))
      res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': id }).end(body)
    }
    clearTimeout(timer)
    const ms = performance.now() - start
    span.setAttribute('http.response.status_code', status)
    span.end()
    ;(status === 200 ? ok : duration.labels('GET', '__unmatched__', '404')).observe(ms / 1000)
    const sc = span.spanContext()
    log.info(
      {
        req_id: id,
        trace_id: sc.traceId,
        span_id: sc.spanId,
        method: req.method,
        path: req.url,
        status,
        duration_ms: ms,
      },
      'request completed',
    )
  })
})
server.listen(port(), '127.0.0.1', () =>
  announce(
    server,
    { missing: [], stack: ['node:http', 'pino', 'prom-client', 'OTel SDK'] },
    () => ({
      spans: sdk.spans(),
      logBytes: logBytes(),
    }),
  ),
)
