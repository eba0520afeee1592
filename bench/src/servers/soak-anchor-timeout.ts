// Soak: Hono + hono/timeout(5) in front of a handler that waits 20 ms. hono/timeout has no
// signal, so the handler runs on after the 504, as it would in a real app.
import { setTimeout as sleep } from 'node:timers/promises'
import { Hono } from 'hono'
import { timeout } from 'hono/timeout'
import { serveHono } from '../lib/hono-app.ts'

const app = new Hono().use(timeout(5))
app.get('/slow', async (c) => {
  await sleep(20)
  return c.json({ ok: true })
})
serveHono(app, { missing: [], stack: ['hono/timeout(5)'] })
