// Soak: Hono + @sturdy/timeout deadline() with a 5 ms budget in front of a handler that
// waits 20 ms on the request signal, as a handler should: every deadline fires.
import { setTimeout as sleep } from 'node:timers/promises'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { serveHono } from '../lib/hono-app.ts'
import { Wiring } from '../lib/sturdy.ts'

const wiring = new Wiring()
const deadline = wiring.factory('timeout', ['deadline'])
const app = new Hono<{ Variables: { signal: AbortSignal } }>()
if (deadline !== undefined) {
  app.use(sturdy(deadline({ budgetMs: 5 })))
  wiring.use('@sturdy/timeout deadline({ budgetMs: 5 })')
}
app.get('/slow', async (c) => {
  await sleep(20, undefined, { signal: c.var.signal })
  return c.json({ ok: true })
})
serveHono(app, wiring)
