/**
 * One replica of the scale-out test (`scale-out.test.ts` starts three): a Hono service on
 * 127.0.0.1 whose rate limit lives in a shared Redis, with `/stats` (its limiters' event
 * counts; `@sturdy/metrics` turns the same events into metrics). Not part of the
 * package; run as `node --import tsx src/scale-out-replica.ts` with
 * `REDIS_URL`, `LIMIT`, `WINDOW_MS`; requests choose the limiter with `x-algorithm`
 * (`token-bucket` | `sliding-window`) and name their client with `x-client`.
 * Prints `listening <port>` once it serves; SIGTERM closes it.
 */
import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { Redis } from 'ioredis'
import { ioredisClient, rateLimit, redisStore, slidingWindow, tokenBucket } from './index.ts'

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`scale-out replica: ${name} is not set`)
  return value
}

const limit = Number(env('LIMIT'))
const windowMs = Number(env('WINDOW_MS'))
// The settings the README recommends: fail fast while Redis is down, reconnect quietly.
const redis = new Redis(env('REDIS_URL'), {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => 100,
})
redis.on('error', () => {
  // Reconnection errors while Redis is down: the store's fallback handles them.
})
// Event counts per limiter: what the test reads from /stats.
const stats: Record<
  string,
  { allowed: number; rejected: number; fallback: number; degraded: boolean }
> = {}
// One limiter per algorithm; a request picks one with `x-algorithm`. Every request of a
// test comes from one client (`x-client`), whichever replica it reaches.
const guards = [
  ['token-bucket', tokenBucket({ limit, windowMs })],
  ['sliding-window', slidingWindow({ limit, windowMs })],
] as const
const middleware = guards.map(([kind, algorithm]) => {
  const guard = rateLimit({
    limiter: {
      name: kind,
      algorithm,
      // A generous timeout: on a loaded test machine a slow answer must not be mistaken
      // for an outage (the outage test stops Redis, which fails calls at once).
      store: redisStore({ client: ioredisClient(redis), timeoutMs: 5000, retryMs: 100 }),
    },
    key: (ex) => (ex.header('x-algorithm') === kind ? ex.header('x-client') : undefined),
  })
  const counts = { allowed: 0, rejected: 0, fallback: 0, degraded: false }
  stats[kind] = counts
  guard.events.on('allowed', () => counts.allowed++)
  guard.events.on('rejected', () => counts.rejected++)
  guard.events.on('fallback', () => {
    counts.fallback++
    counts.degraded = true
  })
  guard.events.on('recovered', () => {
    counts.degraded = false
  })
  return guard
})

const app = new Hono().use(sturdy(...middleware))
app.get('/work', (c) => c.json({ pid: process.pid }))
app.get('/stats', (c) => c.json(stats))

const server = createAdaptorServer({ fetch: app.fetch }) as Server
// Serve once Redis is connected: with `enableOfflineQueue: false`, a request that arrived
// first would be decided by the local fallback (on a loaded machine the three replicas
// listened before Redis answered, and the first spray got 138 allowed of a global 100).
// (Not `once(redis, 'ready')`: it rejects on the first 'error', and a refused first
// connection is one ioredis retries.)
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve))
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  process.stdout.write(`listening ${port}\n`)
})
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  redis.disconnect()
  process.exit(0)
})
