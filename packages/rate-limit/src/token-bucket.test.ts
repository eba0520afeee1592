import { manualClock } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryStore } from './memory-store.ts'
import { rateLimiter } from './rate-limiter.ts'
import { tokenBucket } from './token-bucket.ts'

function setup(options: Parameters<typeof tokenBucket>[0], start = 1_000) {
  const clock = manualClock(start)
  const limiter = rateLimiter({
    algorithm: tokenBucket(options),
    store: memoryStore({ clock }),
    clock,
  })
  const take = (cost = 1, key = 'k') => {
    const d = limiter.consume(key, cost)
    if (d instanceof Promise) throw new Error('memory store must answer synchronously')
    return d
  }
  return { clock, limiter, take }
}

describe('tokenBucket', () => {
  it('starts full, admits a burst, then one token per interval', () => {
    const { clock, take } = setup({ limit: 10, windowMs: 1000, burst: 5 })
    const first = take()
    expect(first).toEqual({
      allowed: true,
      limit: 10,
      windowMs: 1000,
      remaining: 4,
      resetMs: 100,
      retryAfterMs: 0,
    })
    for (let i = 0; i < 4; i++) expect(take().allowed).toBe(true)
    const refused = take()
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 100 })
    clock.advance(99)
    expect(take().allowed).toBe(false)
    clock.advance(1)
    expect(take()).toMatchObject({ allowed: true, remaining: 0 })
    // a full bucket again after burst × interval of silence
    clock.advance(500)
    expect(take()).toMatchObject({ allowed: true, remaining: 4, resetMs: 100 })
  })

  it('charges costs, refuses what does not fit without taking anything, and never fits more than the burst', () => {
    const { clock, take } = setup({ limit: 10, windowMs: 1000 })
    expect(take(7)).toMatchObject({ allowed: true, remaining: 3 })
    expect(take(4)).toMatchObject({ allowed: false, remaining: 3, retryAfterMs: 100 })
    expect(take(3)).toMatchObject({ allowed: true, remaining: 0 })
    clock.advance(10_000)
    expect(take(11)).toMatchObject({ allowed: false, retryAfterMs: Number.POSITIVE_INFINITY })
    expect(take(10)).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('a zero cost only looks', () => {
    const { take } = setup({ limit: 3, windowMs: 3000 })
    take(2)
    expect(take(0)).toMatchObject({ allowed: true, remaining: 1 })
    expect(take(0)).toMatchObject({ allowed: true, remaining: 1 })
  })

  it('keeps keys apart, and refunds give tokens back', async () => {
    const { limiter, take } = setup({ limit: 2, windowMs: 1000 })
    take(2, 'a')
    expect(take(1, 'a').allowed).toBe(false)
    expect(take(1, 'b').allowed).toBe(true)
    await limiter.refund('a', 1)
    expect(take(1, 'a').allowed).toBe(true)
    // a refund never makes the bucket fuller than full
    await limiter.refund('b', 5)
    expect(take(0, 'b').remaining).toBe(2)
  })

  it('a fractional interval still admits the whole burst (no float drift)', () => {
    const { clock, take } = setup({ limit: 3, windowMs: 1000 }, 1_700_000_000_000.123)
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3; i++) expect(take().allowed).toBe(true)
      expect(take().allowed).toBe(false)
      clock.advance(1000)
    }
  })

  it('rejects bad options and costs with clear errors', () => {
    expect(() => tokenBucket({ limit: 0 })).toThrow(/limit must be a positive integer/)
    expect(() => tokenBucket({ limit: 5, burst: 1.5 })).toThrow(/burst/)
    const { take } = setup({ limit: 5 })
    expect(() => take(-1)).toThrow(RangeError)
    expect(() => take(0.5)).toThrow(/non-negative integer/)
  })

  describe('properties (manual clock)', () => {
    const op = fc.record({
      wait: fc.integer({ min: 0, max: 400 }),
      cost: fc.integer({ min: 0, max: 6 }),
    })
    const config = fc.record({
      limit: fc.integer({ min: 1, max: 20 }),
      windowMs: fc.integer({ min: 1, max: 5000 }),
      burst: fc.integer({ min: 1, max: 20 }),
    })

    it('admits at most burst + rate × elapsed over any stretch of time', () => {
      fc.assert(
        fc.property(config, fc.array(op, { maxLength: 120 }), (cfg, ops) => {
          const { clock, take } = setup(cfg)
          const admitted: { at: number; cost: number }[] = []
          for (const { wait, cost } of ops) {
            clock.advance(wait)
            const d = take(cost)
            if (d.allowed) admitted.push({ at: clock.now(), cost })
          }
          const rate = cfg.limit / cfg.windowMs
          for (let i = 0; i < admitted.length; i++) {
            let sum = 0
            for (let j = i; j < admitted.length; j++) {
              sum += (admitted[j] as { cost: number }).cost
              const span = (admitted[j] as { at: number }).at - (admitted[i] as { at: number }).at
              expect(sum).toBeLessThanOrEqual(cfg.burst + rate * span + 1e-6)
            }
          }
        }),
      )
    })

    it('a refusal says exactly how long to wait, and remaining is what fits now', () => {
      fc.assert(
        fc.property(
          config,
          fc.array(op, { maxLength: 60 }),
          fc.integer({ min: 1, max: 6 }),
          (cfg, ops, cost) => {
            const { clock, take } = setup(cfg)
            for (const o of ops) {
              clock.advance(o.wait)
              take(o.cost)
            }
            const now = take(0)
            // `remaining` fits at once; one more unit does not
            if (now.remaining > 0) expect(take(0).remaining).toBe(now.remaining)
            const refused = take(now.remaining + 1)
            expect(refused.allowed).toBe(false)
            if (now.remaining + 1 > cfg.burst) {
              expect(refused.retryAfterMs).toBe(Number.POSITIVE_INFINITY)
              return
            }
            expect(refused.retryAfterMs).toBeGreaterThan(0)
            // Retry-After never points before the reset parameter
            expect(Math.ceil(refused.retryAfterMs / 1000)).toBeGreaterThanOrEqual(
              Math.ceil(refused.resetMs / 1000),
            )
            const c = Math.min(cost, cfg.burst)
            const r = take(c)
            if (r.allowed) return
            clock.advance(Math.max(0, r.retryAfterMs - 0.01))
            expect(take(c).allowed).toBe(false)
            clock.advance(0.01)
            expect(take(c).allowed).toBe(true)
          },
        ),
      )
    })
  })
})
