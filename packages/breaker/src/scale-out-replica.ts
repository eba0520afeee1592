/**
 * One replica of the breaker scale-out test (`scale-out.test.ts` starts three): a Hono
 * service on 127.0.0.1 whose `payments` breaker shares its state through Redis. Not part
 * of the package; run as `node --import tsx src/scale-out-replica.ts` with `REDIS_URL`.
 * `GET /pay?fail=1` calls a failing dependency through the breaker, `GET /pay` a healthy
 * one; `GET /state` tells the breaker's state. Prints `listening <port>`; SIGTERM ends it.
 */
import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import { Redis } from 'ioredis'
import {
  circuitBreaker,
  ioredisBreakerClient,
  isBrokenCircuitError,
  redisBreakerStore,
} from './index.ts'

const url = process.env.REDIS_URL
if (url === undefined) throw new Error('scale-out replica: REDIS_URL is not set')
const redis = new Redis(url, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => 100,
})
redis.on('error', () => {})
const payments = circuitBreaker({
  name: 'payments',
  readyToTrip: (counts) => counts.consecutiveFailures >= 3,
  openMs: 30_000,
  shared: redisBreakerStore({ client: ioredisBreakerClient(redis) }),
})
let dependencyCalls = 0

const app = new Hono()
app.get('/pay', async (c) => {
  const failing = c.req.query('fail') === '1'
  try {
    await payments.execute(async () => {
      dependencyCalls++
      if (failing) throw new Error('payments provider down')
    })
    return c.json({ paid: true })
  } catch (error) {
    if (isBrokenCircuitError(error)) return c.json({ code: error.code }, 503)
    return c.json({ error: 'dependency failed' }, 502)
  }
})
app.get('/state', (c) => c.json({ state: payments.state, dependencyCalls }))

const server = createAdaptorServer({ fetch: app.fetch }) as Server
redis.once('ready', () => {
  server.listen(0, '127.0.0.1', () => {
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    process.stdout.write(`listening ${port}\n`)
  })
})
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  redis.disconnect()
  process.exit(0)
})
