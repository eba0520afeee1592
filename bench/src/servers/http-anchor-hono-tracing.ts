// Attribution: @hono/otel with the SDK (ALS on), the anchor for @sturdy/tracing.
import { httpInstrumentationMiddleware } from '@hono/otel'
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { startSdk } from '../lib/otel.ts'

const sdk = startSdk()
const app = new Hono().use(httpInstrumentationMiddleware({ tracerProvider: sdk.provider }))
serveHono(addRoute(app), { missing: [], stack: ['@hono/otel'] }, () => ({ spans: sdk.spans() }))
