/**
 * Three server processes share one real Redis; one client sprays requests across them.
 * The global limit holds across replicas, and stopping Redis mid-spray loses no request:
 * every one is answered (200 or 429), by the local fallback once Redis is gone, which
 * each replica's `fallback` events show.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { RedisServer } from '../../../scripts/redis-server.ts'
import { startRedisServer } from '../../../scripts/redis-server.ts'
import type { Replicas } from './testing.ts'
import { describeRedis, startReplicas } from './testing.ts'

const REPLICA = fileURLToPath(new URL('./scale-out-replica.ts', import.meta.url))
const LIMIT = 100
const WINDOW_MS = 600_000 // 100 per 10 minutes: a token refills every 6 s

interface Sprayed {
  statuses: number[]
  failures: unknown[]
  elapsedMs: number
}

/**
 * Sends `total` requests round-robin over `urls`, `concurrency` at a time, as one client.
 * `during(i)` runs before request i is sent.
 */
async function spray(
  urls: readonly string[],
  total: number,
  algorithm: string,
  client: string,
  concurrency = 16,
  during?: (i: number) => Promise<void>,
): Promise<Sprayed> {
  const statuses: number[] = []
  const failures: unknown[] = []
  let next = 0
  const started = performance.now()
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++
      await during?.(i)
      try {
        const res = await fetch(`${urls[i % urls.length]}/work`, {
          headers: { 'x-algorithm': algorithm, 'x-client': client },
        })
        await res.arrayBuffer()
        statuses.push(res.status)
      } catch (error) {
        failures.push(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { statuses, failures, elapsedMs: performance.now() - started }
}

const count = (statuses: number[], status: number) => statuses.filter((s) => s === status).length

interface Counts {
  allowed: number
  rejected: number
  fallback: number
  degraded: boolean
}

/** A replica's event counts for one limiter. */
async function stats(url: string, algorithm: string): Promise<Counts> {
  const all = (await (await fetch(`${url}/stats`)).json()) as Record<string, Counts>
  return all[algorithm] as Counts
}

describeRedis('three replicas sharing one Redis', () => {
  let redis: RedisServer
  let replicas: Replicas
  beforeAll(async () => {
    redis = await startRedisServer()
    replicas = await startReplicas(REPLICA, 3, {
      REDIS_URL: redis.url,
      LIMIT: String(LIMIT),
      WINDOW_MS: String(WINDOW_MS),
    })
  }, 120_000)
  afterAll(async () => {
    await replicas?.stop()
    await redis?.stop()
  })

  it.each(['token-bucket', 'sliding-window'])(
    '1,000 requests sprayed across them are held to the global limit (%s)',
    async (algorithm) => {
      const { statuses, failures, elapsedMs } = await spray(
        replicas.urls,
        1000,
        algorithm,
        'global',
      )
      expect(failures).toEqual([])
      expect(statuses).toHaveLength(1000)
      expect(count(statuses, 200) + count(statuses, 429)).toBe(1000)
      // Redis decided every request: no fallback blurred the count (checked first, as a
      // fallback would also explain a count over the limit).
      const counts = await Promise.all(replicas.urls.map((url) => stats(url, algorithm)))
      expect(counts.map((c) => c.fallback)).toEqual([0, 0, 0])
      // Tolerance: exactly the limit, plus what the algorithm legitimately refilled during
      // the spray (one unit per WINDOW_MS / LIMIT = 6 s; a sliding window that crosses its
      // boundary frees the same share) — never 3 × the limit, as per-replica limits would.
      const refilled = Math.ceil((elapsedMs * LIMIT) / WINDOW_MS)
      expect(count(statuses, 200)).toBeGreaterThanOrEqual(LIMIT)
      expect(count(statuses, 200)).toBeLessThanOrEqual(LIMIT + refilled)
      // Every replica took part, and each refused some: the quota is one, not three.
      for (const c of counts) expect(c.rejected).toBeGreaterThan(0)
    },
    60_000,
  )

  it('stopping Redis mid-spray loses no request and hands decisions to the local fallback', async () => {
    let stopped: Promise<void> | undefined
    const { statuses, failures } = await spray(
      replicas.urls,
      600,
      'token-bucket',
      'outage',
      12,
      async (i) => {
        if (i === 150) stopped = redis.stop()
        if (i > 150) await stopped
      },
    )
    expect(failures).toEqual([])
    expect(statuses).toHaveLength(600)
    expect(count(statuses, 200) + count(statuses, 429)).toBe(600)
    // Before the stop the shared limit held; after it each replica limits on its own.
    expect(count(statuses, 200)).toBeGreaterThanOrEqual(LIMIT)
    expect(count(statuses, 200)).toBeLessThanOrEqual(LIMIT * 4)
    for (const url of replicas.urls) {
      const counts = await stats(url, 'token-bucket')
      expect(counts.fallback).toBeGreaterThan(0)
      expect(counts.degraded).toBe(true)
    }
  }, 120_000)
})
