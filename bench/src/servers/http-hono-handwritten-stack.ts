// Contender: the full stack's work hand-written as one Hono middleware — the same
// request id, pino line, histogram observation, SERVER span (the handler run inside its
// context) and 5 s deadline as `node-stack`, on Hono and @hono/node-server. Its distance
// from bare Hono is what the stack's work costs on Hono; its distance from
// `sturdy-hono-stack` is what Sturdy's middleware layer adds on top of that work.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { context, propagation, SpanKind, trace } from '@opentelemetry/api'
import { Hono } from 'hono'
import { HEADER_GETTER, requestDuration, SAFE_ID } from '../lib/handwritten.ts'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'
import { startSdk } from '../lib/otel.ts'

const sdk = startSdk()
const tracer = sdk.provider.getTracer('hono-handwritten-stack')
const log = fileLogger()
const duration = requestDuration()

const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>()
app.use(async (c, next) => {
  const start = performance.now()
  const headers = c.env.incoming.headers
  const incoming = headers['x-request-id']
  const id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID()
  const parent = propagation.extract(context.active(), headers, HEADER_GETTER)
  const span = tracer.startSpan(
    c.req.method,
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': c.req.method, 'url.path': c.req.path },
    },
    parent,
  )
  c.header('x-request-id', id)
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), 5000)
  })
  try {
    const done = await context.with(trace.setSpan(parent, span), () =>
      Promise.race([next().then(() => 'done' as const), expired]),
    )
    if (done === 'expired') c.res = c.body(null, 504)
  } finally {
    clearTimeout(timer)
  }
  const status = c.res.status
  const route = c.req.routePath
  const ms = performance.now() - start
  span.setAttribute('http.response.status_code', status)
  span.updateName(`${c.req.method} ${route}`)
  span.end()
  duration.labels(c.req.method, route, String(status)).observe(ms / 1000)
  const sc = span.spanContext()
  log.info(
    {
      req_id: id,
      trace_id: sc.traceId,
      span_id: sc.spanId,
      method: c.req.method,
      path: c.req.path,
      status,
      duration_ms: ms,
    },
    'request completed',
  )
})
serveHono(
  addRoute(app),
  { missing: [], stack: ['hono', 'pino', 'prom-client', 'OTel SDK'] },
  () => ({ spans: sdk.spans(), logBytes: logBytes() }),
)
