// Attribution: hono/request-id + hono-pino (to a file), the anchor for @sturdy/logger.
import { Hono } from 'hono'
import { requestId } from 'hono/request-id'
import { pinoLogger } from 'hono-pino'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'

const app = new Hono().use(requestId()).use(pinoLogger({ pino: fileLogger() }))
serveHono(addRoute(app), { missing: [], stack: ['hono/request-id', 'hono-pino'] }, () => ({
  logBytes: logBytes(),
}))
