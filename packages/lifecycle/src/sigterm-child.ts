// The service signal.test.ts sends real signals to: Hono on @hono/node-server with the
// lifecycle's defaults for logging (JSON lines on stdout) and exit (process.exit). Its
// timings come from the environment so each test can pick them.
import { serve } from '@hono/node-server'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { jsonLineLogger, lifecycle } from './index.ts'

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback)
const log = jsonLineLogger()
const life = lifecycle({
  drainDelayMs: env('DRAIN_DELAY_MS', 500),
  drainTimeoutMs: env('DRAIN_TIMEOUT_MS', 2000),
  abortGraceMs: env('ABORT_GRACE_MS', 200),
  logger: log,
})
life.onClose('database', () => new Promise((resolve) => setTimeout(resolve, 20)))
if (process.env.FAIL_CLOSE === '1') {
  life.onClose('telemetry', async () => {
    throw new Error('exporter unreachable')
  })
}

const app = new Hono().use(sturdy(life.middleware()))
app.get('/users/:id', async (c) => {
  await new Promise((resolve) => setTimeout(resolve, 2))
  return c.json({ id: c.req.param('id') })
})
app.get('/slow', async (c) => {
  log.info({}, 'slow started')
  await new Promise((resolve) => setTimeout(resolve, 60_000))
  return c.text('too late')
})

const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  log.info({ port: info.port, boundMs: life.boundMs }, 'listening')
})
life.serve(server)
life.handleSignals()
