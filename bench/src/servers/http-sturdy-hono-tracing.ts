// Attribution: @sturdy/tracing tracing() alone with the SDK (ALS on), against @hono/otel.
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { startSdk } from '../lib/otel.ts'
import { sturdyStack } from '../lib/sturdy-stack.ts'

const sdk = startSdk()
const { middleware, wiring } = sturdyStack(['tracing'], { tracerProvider: sdk.provider })
serveHono(addRoute(new Hono().use(sturdy(...middleware))), wiring, () => ({ spans: sdk.spans() }))
