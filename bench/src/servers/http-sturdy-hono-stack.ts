// Contender: Hono + the full Sturdy stack through @sturdy/hono:
// sturdy(tracing(...), requestLogger(...), httpMetrics(...), deadline(...)), with the same
// SDK (ALS context manager registered, 100% sampling, discarding exporter), a pino logger
// writing to a file and its own prom-client registry. Pieces whose package is not there
// yet are left out and reported as missing.
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { Registry } from 'prom-client'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'
import { startSdk } from '../lib/otel.ts'
import { sturdyStack } from '../lib/sturdy-stack.ts'

const sdk = startSdk()
const { middleware, wiring } = sturdyStack(['tracing', 'logger', 'metrics', 'deadline'], {
  tracerProvider: sdk.provider,
  logger: fileLogger(),
  registry: new Registry(),
})
const app = new Hono()
app.use(sturdy(...middleware))
serveHono(addRoute(app), wiring, () => ({ spans: sdk.spans(), logBytes: logBytes() }))
