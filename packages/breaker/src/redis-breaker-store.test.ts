import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RedisServer } from '../../../scripts/redis-server.ts'
import { startRedisServer } from '../../../scripts/redis-server.ts'
import type { CircuitBreaker } from './circuit-breaker.ts'
import { circuitBreaker } from './circuit-breaker.ts'
import { ioredisBreakerClient, redisBreakerStore } from './redis-breaker-store.ts'
import { describeRedis, REDIS_URL } from './testing.ts'

const fail = async (): Promise<never> => {
  throw new Error('down')
}

/** Polls `check` every 10 ms for up to `ms` (a bound, not a speed claim). */
async function within(ms: number, check: () => boolean): Promise<number> {
  const start = performance.now()
  while (!check()) {
    if (performance.now() - start > ms) throw new Error(`not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return performance.now() - start
}

/** One "replica": its own connections, its own breaker of the shared name. */
function replica(url: string, name: string, openMs: number, prefix: string) {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  })
  redis.on('error', () => {})
  const store = redisBreakerStore({ client: ioredisBreakerClient(redis), prefix, timeoutMs: 300 })
  const breaker = circuitBreaker({
    name,
    readyToTrip: (c) => c.consecutiveFailures >= 3,
    openMs,
    shared: store,
  })
  const ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()))
  return { redis, breaker, ready, close: () => redis.disconnect() }
}

/** Offers each breaker one call per round until one is admitted; returns the admitted. */
async function trial(breakers: readonly CircuitBreaker[]) {
  for (let round = 0; round < 50; round++) {
    const admitted = breakers.map((b) => b.tryAllow()).filter((d) => d !== undefined)
    if (admitted.length > 0) return admitted
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return []
}

describeRedis('redisBreakerStore on a real redis-server', () => {
  const prefix = `test:${Math.random().toString(36).slice(2)}:`
  const closers: (() => void)[] = []
  afterAll(() => {
    for (const close of closers) close()
  })
  const three = async (name: string, openMs: number) => {
    const rs = [0, 1, 2].map(() => replica(REDIS_URL, name, openMs, prefix))
    closers.push(...rs.map((r) => r.close))
    await Promise.all(rs.map((r) => r.ready))
    await new Promise((resolve) => setTimeout(resolve, 100)) // subscriptions settle
    return rs.map((r) => r.breaker)
  }

  it('a trip on one replica opens the other two within 2 s; one of them probes, and its success closes all', async () => {
    const [a, b, c] = (await three('payments', 400)) as [
      CircuitBreaker,
      CircuitBreaker,
      CircuitBreaker,
    ]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    expect(a.state).toBe('open')
    await within(2000, () => b.state === 'open' && c.state === 'open')
    await new Promise((resolve) => setTimeout(resolve, 400))
    const admitted = await trial([a, b, c])
    expect(admitted).toHaveLength(1)
    expect([a, b, c].filter((x) => x.state === 'half-open')).toHaveLength(1)
    admitted[0]?.('success')
    await within(2000, () => [a, b, c].every((x) => x.state === 'closed'))
  })

  it('a replica that starts while the circuit is open joins it for what is left of the period', async () => {
    const [a] = (await three('inventory', 5000)) as [CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 50))
    const [late] = (await three('inventory', 5000)) as [CircuitBreaker]
    await within(2000, () => late.state === 'open')
    expect(late.retryAfterMs()).toBeLessThanOrEqual(5000)
    expect(late.retryAfterMs()).toBeGreaterThan(0)
  })
})

describeRedis('redisBreakerStore with Redis stopped', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(async () => {
    await server.stop()
  })

  it('each replica keeps working on local state: trips stay local, and a replica probes on its own', async () => {
    const a = replica(server.url, 'search', 200, 'down:')
    const b = replica(server.url, 'search', 200, 'down:')
    try {
      await Promise.all([a.ready, b.ready])
      await server.stop()
      for (let i = 0; i < 3; i++) await a.breaker.execute(fail).catch(() => {})
      expect(a.breaker.state).toBe('open')
      expect(await b.breaker.execute(async () => 'ok')).toBe('ok')
      await new Promise((resolve) => setTimeout(resolve, 250))
      // No lease to be had: after the store's timeout it probes by itself.
      expect(await trial([a.breaker])).toHaveLength(1)
    } finally {
      a.close()
      b.close()
    }
  })
})
