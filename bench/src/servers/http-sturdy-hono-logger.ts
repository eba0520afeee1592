// Attribution: @sturdy/logger requestLogger() alone (request id + one access line to a
// file), against hono/request-id + hono-pino.
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'
import { sturdyStack } from '../lib/sturdy-stack.ts'

const { middleware, wiring } = sturdyStack(['logger'], { logger: fileLogger() })
serveHono(addRoute(new Hono().use(sturdy(...middleware))), wiring, () => ({ logBytes: logBytes() }))
