import type { BreakerEventMap } from '@sturdy/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RedisServer } from '../../../scripts/redis-server.ts'
import { startRedisServer } from '../../../scripts/redis-server.ts'
import type { CircuitBreakerOptions } from './breaker-options.ts'
import type { CircuitBreaker } from './circuit-breaker.ts'
import { circuitBreaker } from './circuit-breaker.ts'
import type { BreakerRedisClient } from './redis-breaker-store.ts'
import { ioredisBreakerClient, redisBreakerStore } from './redis-breaker-store.ts'
import type { SharedBreakerOptions } from './shared-state.ts'
import type { TcpProxy } from './testing.ts'
import { describeRedis, REDIS_URL, tcpProxy } from './testing.ts'

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

const connect = (url: string): Redis => {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  })
  redis.on('error', () => {})
  return redis
}

interface ReplicaOptions {
  shared?: Omit<SharedBreakerOptions, 'store'>
  breaker?: CircuitBreakerOptions
  /** Subscribe through this URL (a proxy) instead of `url`. */
  subscribeUrl?: string
}

/** One "replica": its own connections, its own breaker of the shared name. */
function replica(
  url: string,
  name: string,
  openMs: number,
  prefix: string,
  o: ReplicaOptions = {},
) {
  const redis = connect(url)
  const other = o.subscribeUrl === undefined ? undefined : connect(o.subscribeUrl)
  const client: BreakerRedisClient =
    other === undefined
      ? ioredisBreakerClient(redis)
      : { eval: ioredisBreakerClient(redis).eval, subscribe: ioredisBreakerClient(other).subscribe }
  const store = redisBreakerStore({ client, prefix, timeoutMs: 300 })
  const breaker = circuitBreaker({
    name,
    openMs,
    shared: { ...o.shared, store },
    ...(o.breaker ?? { readyToTrip: (c) => c.consecutiveFailures >= 3 }),
  })
  const changes: BreakerEventMap['stateChange'][] = []
  breaker.events.on('stateChange', (e) => changes.push(e))
  const ready = Promise.all(
    [redis, ...(other === undefined ? [] : [other])].map(
      (r) => new Promise<void>((resolve) => r.once('ready', () => resolve())),
    ),
  ).then(() => {})
  const close = (): void => {
    redis.disconnect()
    other?.disconnect()
  }
  return { redis, breaker, changes, ready, close }
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
    // An open period no pause of a busy host outlasts before b and c are seen open.
    const [a, b, c] = (await three('payments', 3000)) as [
      CircuitBreaker,
      CircuitBreaker,
      CircuitBreaker,
    ]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    expect(a.state).toBe('open')
    await within(2000, () => b.state === 'open' && c.state === 'open')
    await new Promise((resolve) => setTimeout(resolve, 3000))
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

describeRedis('redisBreakerStore: periodic sync and merged counts on a real redis-server', () => {
  const prefix = `sync:${Math.random().toString(36).slice(2)}:`
  const SYNC_MS = 500
  const closers: (() => unknown)[] = []
  let proxy: TcpProxy
  beforeAll(async () => {
    proxy = await tcpProxy(Number(new URL(REDIS_URL).port))
    closers.push(() => proxy.close())
  })
  afterAll(async () => {
    for (const close of closers) await close()
  })
  const start = async (name: string, options: ReplicaOptions[]) => {
    const rs = options.map((o) => replica(REDIS_URL, name, 30_000, prefix, o))
    closers.push(...rs.map((r) => r.close))
    await Promise.all(rs.map((r) => r.ready))
    await new Promise((resolve) => setTimeout(resolve, 100)) // subscriptions settle
    return rs
  }

  it(`a replica whose subscriber connection is cut still opens, within syncMs (${SYNC_MS} ms) plus a round trip`, async () => {
    proxy.restore()
    const shared = { syncMs: SYNC_MS }
    // c's commands go straight to Redis; only its subscriber goes through the proxy.
    const [a, b, c] = await start('sub-cut', [
      { shared },
      { shared },
      { shared, subscribeUrl: proxy.url },
    ])
    if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable')
    proxy.cut() // its subscriber is gone, and stays gone for the whole test
    for (let i = 0; i < 3; i++) await a.breaker.execute(fail).catch(() => {})
    await within(2000, () => b.breaker.state === 'open')
    // The bound is syncMs plus a round trip; the slack is for a loaded machine. Without the
    // sync it would stay closed for good (the open period is 30 s).
    await within(SYNC_MS + 1500, () => c.breaker.state === 'open')
    expect(c.changes.map((e) => e.reason)).toEqual(['remote-trip'])
    expect(c.breaker.retryAfterMs()).toBeGreaterThan(25_000)
  })

  it('a replica whose Redis connections were down converges once they come back', async () => {
    proxy.restore()
    const shared = { syncMs: SYNC_MS }
    const [a, b] = await start('reconnect', [{ shared }, { shared }])
    const c = replica(proxy.url, 'reconnect', 30_000, prefix, { shared })
    closers.push(c.close)
    await c.ready
    if (a === undefined || b === undefined) throw new Error('unreachable')
    proxy.cut()
    for (let i = 0; i < 3; i++) await a.breaker.execute(fail).catch(() => {})
    await within(2000, () => b.breaker.state === 'open')
    await new Promise((resolve) => setTimeout(resolve, SYNC_MS * 2))
    expect(c.breaker.state).toBe('closed') // it heard nothing, and its syncs failed
    expect(await c.breaker.execute(async () => 'ok')).toBe('ok') // local state meanwhile
    proxy.restore()
    // ioredis reconnects (every 50 ms here); the next sync converges.
    await within(SYNC_MS + 2500, () => c.breaker.state === 'open')
  })

  it('mergeCounts: three replicas, each below the minimum volume, trip together', async () => {
    proxy.restore()
    const shared = { syncMs: 200, mergeCounts: true }
    const breaker = { failureRatio: 0.5, minimumThroughput: 10 }
    const rs = await start('merged', [
      { shared, breaker },
      { shared, breaker },
      { shared, breaker },
    ])
    for (const r of rs) for (let i = 0; i < 4; i++) await r.breaker.execute(fail).catch(() => {})
    expect(rs.map((r) => r.breaker.state)).toEqual(['closed', 'closed', 'closed'])
    await within(3000, () => rs.every((r) => r.breaker.state === 'open'))
    const reasons = rs.flatMap((r) => r.changes.map((e) => e.reason))
    expect(reasons).toContain('failure-ratio')
    expect(reasons.every((x) => x === 'failure-ratio' || x === 'remote-trip')).toBe(true)
  })

  it("the counts script: summed over the window on Redis's clock, scoped to the store's epoch", async () => {
    const redis = connect(REDIS_URL)
    closers.push(() => redis.disconnect())
    await new Promise<void>((resolve) => redis.once('ready', () => resolve()))
    const store = redisBreakerStore({ client: ioredisBreakerClient(redis), prefix })
    // Buckets wide enough that a busy host's pause cannot split the first two reports.
    const window = { bucketMs: 500, buckets: 3 }
    const report = (epoch: number, failures: number) =>
      store.addCounts('counts', { epoch, successes: 1, failures, slowCalls: 0, ...window })
    expect(await report(0, 2)).toEqual({ epoch: 0, successes: 1, failures: 2, slowCalls: 0 })
    expect(await report(0, 3)).toEqual({ epoch: 0, successes: 2, failures: 5, slowCalls: 0 })
    // A transition moves the epoch: older reports are dropped, the window starts over.
    await store.publish({ name: 'counts', state: 'closed', openRemainingMs: 0, origin: 'x' }, 1)
    expect(await report(0, 7)).toEqual({ epoch: 1, successes: 0, failures: 0, slowCalls: 0 })
    expect(await report(1, 1)).toEqual({ epoch: 1, successes: 1, failures: 1, slowCalls: 0 })
    // A report of a newer epoch than the store knows (a Redis that lost its data) moves it.
    expect(await report(5, 1)).toEqual({ epoch: 5, successes: 1, failures: 1, slowCalls: 0 })
    // Four buckets of 500 ms later, those results have left the window.
    await new Promise((resolve) => setTimeout(resolve, 2100))
    expect(await report(5, 0)).toEqual({ epoch: 5, successes: 1, failures: 0, slowCalls: 0 })
    expect(await redis.pttl(`${prefix}{counts}:counts`)).toBeLessThanOrEqual(2000)
  })

  it('mergeCounts off: the same replicas stay closed', async () => {
    const shared = { syncMs: 200 }
    const breaker = { failureRatio: 0.5, minimumThroughput: 10 }
    const rs = await start('unmerged', [
      { shared, breaker },
      { shared, breaker },
      { shared, breaker },
    ])
    for (const r of rs) for (let i = 0; i < 4; i++) await r.breaker.execute(fail).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(rs.map((r) => r.breaker.state)).toEqual(['closed', 'closed', 'closed'])
  })

  it('isolate({ shared: true }) holds every replica open, a late one included; reset({ shared: true }) ends it', async () => {
    const [a, b, c] = await start('operator', [{}, {}, {}])
    if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable')
    expect(await a.breaker.isolate({ shared: true })).toBe(true)
    await within(2000, () => b.breaker.state === 'isolated' && c.breaker.state === 'isolated')
    const [late] = await start('operator', [{}])
    await within(2000, () => late?.breaker.state === 'isolated')
    expect(await c.breaker.reset({ shared: true })).toBe(true)
    await within(2000, () => [a, b, late].every((r) => r?.breaker.state === 'closed'))
  })
})

describeRedis('redisBreakerStore with Redis stopped', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(async () => {
    await server?.stop()
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
      // An operator learns the others were not told.
      expect(await b.breaker.isolate({ shared: true })).toBe(false)
      expect(b.breaker.state).toBe('isolated')
    } finally {
      a.close()
      b.close()
    }
  })
})
