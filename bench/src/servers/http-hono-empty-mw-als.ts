// Reference: an empty middleware that runs the rest of the request inside
// `context.with(context.active(), next)` with the OpenTelemetry SDK registered (ALS
// context manager). That is the floor every tracing middleware pays before creating a
// single span: on Node 20 the AsyncLocalStorage it enables runs on async_hooks.
import { context } from '@opentelemetry/api'
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { startSdk } from '../lib/otel.ts'

startSdk()
const app = new Hono()
app.use(async function emptyInContext(_c, next) {
  await context.with(context.active(), next)
})
serveHono(addRoute(app), {
  missing: [],
  stack: ['OTel SDK (ALS)', 'empty middleware in context.with()'],
})
