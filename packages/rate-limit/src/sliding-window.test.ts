import { manualClock } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryStore } from './memory-store.ts'
import { rateLimiter } from './rate-limiter.ts'
import { slidingWindow } from './sliding-window.ts'

function setup(limit: number, windowMs: number, start = 0) {
  const clock = manualClock(start)
  const limiter = rateLimiter({
    algorithm: slidingWindow({ limit, windowMs }),
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

describe('slidingWindow', () => {
  it('admits the limit in a window, then weighs the previous window by how much of it is still covered', () => {
    const { clock, take } = setup(10, 1000)
    for (let i = 0; i < 10; i++) expect(take().allowed).toBe(true)
    const refused = take()
    // the current window's 10 become the previous window's at 1000, and weigh 10 × (1 − e/1000)
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 1100 })
    clock.advance(1000) // t = 1000: estimate 10 × 1 = 10
    expect(take().allowed).toBe(false)
    clock.advance(99) // t = 1099: 10 × 0.901 = 9.01
    expect(take().allowed).toBe(false)
    clock.advance(1) // t = 1100: 10 × 0.9 = 9
    expect(take()).toMatchObject({ allowed: true, remaining: 0 })
    clock.advance(400) // t = 1500: 10 × 0.5 + 1 = 6
    expect(take()).toMatchObject({ allowed: true, remaining: 3 })
    clock.advance(2000) // two windows later: nothing weighs any more
    expect(take()).toMatchObject({ allowed: true, remaining: 9 })
  })

  it('says when the next unit frees up (t) and when a refused cost fits (Retry-After)', () => {
    const { clock, take } = setup(4, 1000)
    clock.advance(500)
    expect(take(3)).toMatchObject({ allowed: true, remaining: 1, resetMs: 834 })
    clock.advance(500) // t = 1000: previous 3 weigh 3, remaining 1
    const d = take(2)
    expect(d).toMatchObject({ allowed: false, remaining: 1 })
    // 3 × (1 − e/1000) + 2 ≤ 4 when e ≥ 334
    expect(d.retryAfterMs).toBe(334)
    expect(d.resetMs).toBe(334)
    clock.advance(333)
    expect(take(2).allowed).toBe(false)
    clock.advance(1)
    expect(take(2)).toMatchObject({ allowed: true, remaining: 0 })
    expect(take(5)).toMatchObject({ allowed: false, retryAfterMs: Number.POSITIVE_INFINITY })
  })

  it('refunds give units back to the current window', async () => {
    const { limiter, take } = setup(2, 1000)
    take(2)
    expect(take().allowed).toBe(false)
    await limiter.refund('k')
    expect(take()).toMatchObject({ allowed: true, remaining: 0 })
  })

  it('rejects bad options with clear errors', () => {
    expect(() => slidingWindow({ limit: 1.5 })).toThrow(/limit must be a positive integer/)
    expect(() => slidingWindow({ limit: 5, windowMs: 0 })).toThrow(/windowMs/)
  })

  describe('properties (manual clock)', () => {
    const op = fc.record({
      wait: fc.integer({ min: 0, max: 700 }),
      cost: fc.integer({ min: 0, max: 5 }),
    })
    const config = fc.record({
      limit: fc.integer({ min: 1, max: 20 }),
      windowMs: fc.integer({ min: 1, max: 2000 }),
    })

    it('never admits more than the limit within one window, nor 2 × limit within any window-long stretch', () => {
      fc.assert(
        fc.property(config, fc.array(op, { maxLength: 150 }), ({ limit, windowMs }, ops) => {
          const { clock, take } = setup(limit, windowMs)
          const admitted: { at: number; cost: number }[] = []
          for (const { wait, cost } of ops) {
            clock.advance(wait)
            if (take(cost).allowed) admitted.push({ at: clock.now(), cost })
          }
          const perWindow = new Map<number, number>()
          for (const a of admitted) {
            const w = Math.floor(a.at / windowMs)
            perWindow.set(w, (perWindow.get(w) ?? 0) + a.cost)
          }
          for (const total of perWindow.values()) expect(total).toBeLessThanOrEqual(limit)
          for (const a of admitted) {
            const within = admitted
              .filter((b) => b.at >= a.at && b.at < a.at + windowMs)
              .reduce((s, b) => s + b.cost, 0)
            expect(within).toBeLessThanOrEqual(2 * limit)
          }
        }),
      )
    })

    it('remaining fits at once, one more does not, and Retry-After is exact to the ms', () => {
      fc.assert(
        fc.property(config, fc.array(op, { maxLength: 60 }), ({ limit, windowMs }, ops) => {
          const { clock, take } = setup(limit, windowMs)
          for (const o of ops) {
            clock.advance(o.wait)
            take(o.cost)
          }
          const { remaining } = take(0)
          const refused = take(remaining + 1)
          expect(refused.allowed).toBe(false)
          if (remaining + 1 > limit) {
            expect(refused.retryAfterMs).toBe(Number.POSITIVE_INFINITY)
            return
          }
          expect(refused.retryAfterMs).toBeGreaterThan(0)
          expect(refused.retryAfterMs).toBe(refused.resetMs)
          clock.advance(refused.retryAfterMs - 1)
          expect(take(remaining + 1).allowed).toBe(false)
          clock.advance(1)
          expect(take(remaining + 1).allowed).toBe(true)
        }),
      )
    })
  })
})
