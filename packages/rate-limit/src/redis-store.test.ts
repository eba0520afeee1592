import type { RateLimitEventMap } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import type { RedisServer } from '../../../scripts/redis-server.ts'
import { startRedisServer } from '../../../scripts/redis-server.ts'
import type { RateLimitAlgorithm, RateLimitDecision } from './algorithm.ts'
import { memoryStore } from './memory-store.ts'
import { rateLimiter } from './rate-limiter.ts'
import { redisStore } from './redis-store.ts'
import { slidingWindow } from './sliding-window.ts'
import type { TestConnection } from './testing.ts'
import { connect, describeRedis, uniquePrefix } from './testing.ts'
import { tokenBucket } from './token-bucket.ts'

const summary = (d: RateLimitDecision) => ({
  allowed: d.allowed,
  remaining: d.remaining,
  degraded: d.degraded?.reason,
})

function record<K extends keyof RateLimitEventMap>(
  limiter: { events: { on: (e: K, fn: (p: RateLimitEventMap[K]) => void) => unknown } },
  event: K,
): RateLimitEventMap[K][] {
  const seen: RateLimitEventMap[K][] = []
  limiter.events.on(event, (p) => seen.push(p))
  return seen
}

describeRedis('redisStore on a real redis-server', () => {
  let conn: TestConnection
  beforeAll(async () => {
    conn = await connect()
  })
  afterAll(async () => {
    await conn.close()
  })

  it.each([
    ['token bucket', tokenBucket({ limit: 5, windowMs: 60_000 })],
    ['sliding window', slidingWindow({ limit: 5, windowMs: 60_000 })],
  ])(
    'decides a %s exactly as the memory store does',
    async (_name, algorithm: RateLimitAlgorithm) => {
      const redis = rateLimiter({
        algorithm,
        store: redisStore({ client: conn.client, prefix: uniquePrefix() }),
      })
      const memory = rateLimiter({ algorithm, store: memoryStore() })
      const costs = [1, 2, 3, 1, 1, 0, 1, 6]
      const fromRedis: ReturnType<typeof summary>[] = []
      const fromMemory: ReturnType<typeof summary>[] = []
      for (const cost of costs) {
        fromRedis.push(summary(await redis.consume('client', cost)))
        fromMemory.push(summary(await memory.consume('client', cost)))
      }
      expect(fromRedis).toEqual(fromMemory)
      expect(fromRedis.map((d) => d.allowed)).toEqual([
        true,
        true,
        false,
        true,
        true,
        true,
        false,
        false,
      ])
      expect((await redis.consume('other')).remaining).toBe(4)
    },
  )

  it("reads time from Redis (TIME), not from the replica's clock", async () => {
    // A frozen local clock: only Redis's clock can refill the bucket.
    const clock = manualClock(0)
    const limiter = rateLimiter({
      algorithm: tokenBucket({ limit: 2, windowMs: 1000 }),
      store: redisStore({ client: conn.client, prefix: uniquePrefix(), clock }),
      clock,
    })
    await limiter.consume('k', 2)
    const refused = await limiter.consume('k')
    expect(refused.allowed).toBe(false)
    expect(refused.retryAfterMs).toBeGreaterThan(0)
    expect(refused.retryAfterMs).toBeLessThanOrEqual(500)
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 20))
    const later = await limiter.consume('k')
    expect(later.allowed).toBe(true)
    expect(later.degraded).toBeUndefined()
  })

  it('writes keys that expire once their state is back to full, and nothing for refusals', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: conn.client, prefix })
    const bucket = rateLimiter({
      name: 'b',
      algorithm: tokenBucket({ limit: 10, windowMs: 10_000 }),
      store,
    })
    const window = rateLimiter({
      name: 'w',
      algorithm: slidingWindow({ limit: 1, windowMs: 10_000 }),
      store,
    })
    await bucket.consume('k', 3)
    const bucketTtl = await conn.redis.pttl(`${prefix}t:b:k`)
    expect(bucketTtl).toBeGreaterThan(1_000)
    expect(bucketTtl).toBeLessThanOrEqual(3_000)
    await window.consume('k')
    const windowTtl = await conn.redis.pttl(`${prefix}s:w:k`)
    expect(windowTtl).toBeGreaterThan(5_000)
    expect(windowTtl).toBeLessThanOrEqual(20_000)
    await window.consume('other', 2) // refused: never fits
    expect(await conn.redis.exists(`${prefix}s:w:other`)).toBe(0)
  })

  it('loads its scripts again after Redis lost them (SCRIPT FLUSH, restart)', async () => {
    const limiter = rateLimiter({
      algorithm: slidingWindow({ limit: 3 }),
      store: redisStore({ client: conn.client, prefix: uniquePrefix() }),
    })
    await limiter.consume('k')
    await conn.redis.script('FLUSH')
    expect(summary(await limiter.consume('k'))).toEqual({
      allowed: true,
      remaining: 1,
      degraded: undefined,
    })
  })

  it('refunds through Redis', async () => {
    const limiter = rateLimiter({
      algorithm: slidingWindow({ limit: 1 }),
      store: redisStore({ client: conn.client, prefix: uniquePrefix() }),
    })
    await limiter.consume('k')
    expect((await limiter.consume('k')).allowed).toBe(false)
    await limiter.refund('k')
    expect((await limiter.consume('k')).allowed).toBe(true)
  })
})

describeRedis('redisStore when Redis is down or slow', () => {
  let server: RedisServer
  let conn: TestConnection
  beforeAll(async () => {
    // Its own server: these tests freeze and stop it.
    server = await startRedisServer()
    conn = await connect(server.url)
  })
  afterEach(() => {
    server.resume()
  })
  afterAll(async () => {
    await conn.close()
    await server.stop()
  })

  it('a slow Redis: the timeout hands the decision to a local limit, with fallback events; one probe later recovers', async () => {
    const clock = manualClock(0)
    const store = redisStore({
      client: conn.client,
      prefix: uniquePrefix(),
      timeoutMs: 50,
      retryMs: 1000,
      clock,
    })
    const limiter = rateLimiter({
      algorithm: slidingWindow({ limit: 2, windowMs: 60_000 }),
      store,
      clock,
    })
    const fallbacks = record(limiter, 'fallback')
    const recovered = record(limiter, 'recovered')
    expect((await limiter.consume('k')).degraded).toBeUndefined()

    server.pause()
    const slow = limiter.consume('k')
    await clock.advanceAsync(50)
    expect(summary(await slow)).toEqual({ allowed: true, remaining: 1, degraded: 'timeout' })
    expect(store.status).toBe('down')
    // within retryMs Redis is not asked: no request waits for it
    expect(summary(limiter.consume('k') as RateLimitDecision)).toEqual({
      allowed: true,
      remaining: 0,
      degraded: 'unavailable',
    })
    // the local limit still holds
    expect(summary(limiter.consume('k') as RateLimitDecision)).toEqual({
      allowed: false,
      remaining: 0,
      degraded: 'unavailable',
    })
    expect(fallbacks.map((f) => [f.reason, f.mode])).toEqual([
      ['timeout', 'local'],
      ['unavailable', 'local'],
      ['unavailable', 'local'],
    ])

    // after retryMs one call probes; the others keep deciding locally meanwhile
    clock.advance(1000)
    server.resume()
    const probe = limiter.consume('k', 0)
    expect(store.status).toBe('probing')
    expect((limiter.consume('k', 0) as RateLimitDecision).degraded?.reason).toBe('unavailable')
    expect((await probe).degraded).toBeUndefined()
    expect(store.status).toBe('up')
    expect(recovered).toEqual([{ name: 'rate-limit', downMs: 1000 }])
  })

  it('a stopped Redis: errors fall back at once, and allow / deny modes do what they say', async () => {
    const dead = await startRedisServer()
    const deadConn = await connect(dead.url)
    await dead.stop()
    try {
      const algorithm = slidingWindow({ limit: 1 })
      for (const [fallback, allowed] of [
        ['local', [true, false]],
        ['allow', [true, true]],
        ['deny', [false, false]],
      ] as const) {
        const limiter = rateLimiter({
          algorithm,
          store: redisStore({ client: deadConn.client, fallback, retryMs: 0 }),
        })
        const decisions = [await limiter.consume('k'), await limiter.consume('k')]
        expect(decisions.map((d) => d.allowed)).toEqual(allowed)
        expect(decisions.map((d) => d.degraded?.reason)).toEqual(['error', 'error'])
        expect(decisions[0]?.degraded?.error).toBeInstanceOf(Error)
      }
    } finally {
      await deadConn.close()
    }
  })
})
