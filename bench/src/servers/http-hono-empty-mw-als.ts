// Reference: the same empty middleware with the OpenTelemetry SDK registered (ALS context
// manager on), which is what every tracing contender pays before creating a single span.
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { startSdk } from '../lib/otel.ts'

startSdk()
const app = new Hono()
app.use(async function empty(_c, next) {
  await next()
})
serveHono(addRoute(app), { missing: [], stack: ['OTel SDK (ALS)', 'empty middleware'] })
