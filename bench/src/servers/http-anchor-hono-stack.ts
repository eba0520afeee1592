// Contender: the Hono stack a user would assemble today from the anchors, each in its
// documented configuration: @hono/otel with the SDK, hono/request-id, hono-pino (to a
// file), @hono/prometheus (own registry), hono/timeout. Same concerns and order as the
// Sturdy stack: tracing, request id + logging, metrics, deadline.
import { httpInstrumentationMiddleware } from '@hono/otel'
import { prometheus } from '@hono/prometheus'
import { Hono } from 'hono'
import { requestId } from 'hono/request-id'
import { timeout } from 'hono/timeout'
import { pinoLogger } from 'hono-pino'
import { Registry } from 'prom-client'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'
import { startSdk } from '../lib/otel.ts'

const sdk = startSdk()
const { registerMetrics } = prometheus({ registry: new Registry() })
const app = new Hono()
app.use(httpInstrumentationMiddleware({ tracerProvider: sdk.provider }))
app.use(requestId())
app.use(pinoLogger({ pino: fileLogger() }))
app.use(registerMetrics)
app.use(timeout(5000))
serveHono(
  addRoute(app),
  {
    missing: [],
    stack: ['@hono/otel', 'hono/request-id', 'hono-pino', '@hono/prometheus', 'hono/timeout'],
  },
  () => ({ spans: sdk.spans(), logBytes: logBytes() }),
)
