// Reference: Hono with one empty middleware (the floor any middleware pays).
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'

const app = new Hono()
app.use(async function empty(_c, next) {
  await next()
})
serveHono(addRoute(app), { missing: [], stack: ['empty middleware'] })
