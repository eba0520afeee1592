// Contender: bare Hono on @hono/node-server, the baseline of every Hono ratio.
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'

serveHono(addRoute(new Hono()), { missing: [], stack: ['hono'] })
