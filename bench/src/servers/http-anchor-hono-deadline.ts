// Attribution: hono/timeout, the anchor for @sturdy/timeout deadline().
import { Hono } from 'hono'
import { timeout } from 'hono/timeout'
import { addRoute, serveHono } from '../lib/hono-app.ts'

serveHono(addRoute(new Hono().use(timeout(5000))), { missing: [], stack: ['hono/timeout'] })
