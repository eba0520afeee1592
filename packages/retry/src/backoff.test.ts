import { seededRandom } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Jitter } from './index.ts'
import { exponentialBackoff } from './index.ts'

const options = fc.record({
  baseDelayMs: fc.integer({ min: 0, max: 5_000 }),
  maxDelayMs: fc.integer({ min: 0, max: 60_000 }),
  factor: fc.double({ min: 1, max: 4, noNaN: true }),
})

/** Runs `retries` delays of one backoff, feeding each delay back as `previousDelayMs`. */
function delays(
  jitter: Jitter,
  o: { baseDelayMs: number; maxDelayMs: number; factor: number },
  seed: number,
  retries: number,
): number[] {
  const next = exponentialBackoff({ ...o, jitter })
  const random = seededRandom(seed)
  const out: number[] = []
  let previous = 0
  for (let n = 0; n < retries; n++) {
    previous = next(n, previous, random)
    out.push(previous)
  }
  return out
}

const curve = (o: { baseDelayMs: number; maxDelayMs: number; factor: number }, n: number): number =>
  Math.min(o.maxDelayMs, o.baseDelayMs * o.factor ** n)

describe('exponentialBackoff: every strategy stays within its bounds (AWS formulas)', () => {
  const seed = fc.integer()
  const retries = fc.integer({ min: 1, max: 80 })

  it('none: exactly min(cap, base·factor^n)', () => {
    fc.assert(
      fc.property(options, seed, retries, (o, s, r) => {
        delays('none', o, s, r).forEach((d, n) => {
          expect(d).toBe(curve(o, n))
        })
      }),
    )
  })

  it('full: in [0, min(cap, base·factor^n)) (or 0 when the curve is 0)', () => {
    fc.assert(
      fc.property(options, seed, retries, (o, s, r) => {
        delays('full', o, s, r).forEach((d, n) => {
          const c = curve(o, n)
          expect(d).toBeGreaterThanOrEqual(0)
          if (c > 0) expect(d).toBeLessThan(c)
          else expect(d).toBe(0)
        })
      }),
    )
  })

  it('equal: in [d/2, d) with d = min(cap, base·factor^n)', () => {
    fc.assert(
      fc.property(options, seed, retries, (o, s, r) => {
        delays('equal', o, s, r).forEach((d, n) => {
          const c = curve(o, n)
          expect(d).toBeGreaterThanOrEqual(c / 2)
          expect(d).toBeLessThanOrEqual(c)
          if (c > 0) expect(d).toBeLessThan(c)
        })
      }),
    )
  })

  it('decorrelated: in [min(base, cap), cap] and below 3·previous', () => {
    fc.assert(
      fc.property(options, seed, retries, (o, s, r) => {
        let previous = 0
        for (const d of delays('decorrelated', o, s, r)) {
          expect(d).toBeGreaterThanOrEqual(Math.min(o.baseDelayMs, o.maxDelayMs))
          expect(d).toBeLessThanOrEqual(o.maxDelayMs)
          expect(d).toBeLessThanOrEqual(Math.max(o.baseDelayMs, previous) * 3)
          previous = d
        }
      }),
    )
  })

  it('decorrelated: exact values for a fixed random (AWS: min(cap, base + r·(3·previous − base)))', () => {
    const next = exponentialBackoff({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 'decorrelated' })
    const half = (): number => 0.5
    // previous 0 is clamped up to base: 100 + 0.5·(300 − 100) = 200
    expect(next(0, 0, half)).toBe(200)
    // 100 + 0.5·(600 − 100) = 350; then 100 + 0.5·(1050 − 100) = 575; then capped
    expect(next(1, 200, half)).toBe(350)
    expect(next(2, 350, half)).toBe(575)
    expect(next(3, 575, half)).toBe(912.5)
    expect(next(4, 912.5, half)).toBe(1000)
    // The range's ends: r = 0 gives base, r → 1 approaches 3·previous.
    expect(next(0, 400, () => 0)).toBe(100)
    expect(next(0, 300, () => 0.999_999)).toBeCloseTo(900, 2)
  })

  it('decorrelated: for any r, exactly min(cap, base + r·(3·max(base, previous) − base))', () => {
    fc.assert(
      fc.property(
        options,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 100_000 }),
        (o, r, previous) => {
          const next = exponentialBackoff({ ...o, jitter: 'decorrelated' })
          const from = Math.max(o.baseDelayMs, previous)
          const expected = Math.min(o.maxDelayMs, o.baseDelayMs + r * (3 * from - o.baseDelayMs))
          expect(next(0, previous, () => r)).toBeCloseTo(expected, 6)
        },
      ),
    )
  })

  it('full and equal: exactly r·d and d/2 + r·d/2 for any r, whatever the retry number', () => {
    fc.assert(
      fc.property(
        options,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 60 }),
        (o, r, n) => {
          const d = curve(o, n)
          const full = exponentialBackoff({ ...o, jitter: 'full' })
          const equal = exponentialBackoff({ ...o, jitter: 'equal' })
          expect(full(n, 0, () => r)).toBeCloseTo(r * d, 6)
          expect(equal(n, 0, () => r)).toBeCloseTo(d / 2 + (r * d) / 2, 6)
        },
      ),
    )
  })

  it('monotone: every strategy is non-decreasing in the random draw; `none` is non-decreasing in n', () => {
    fc.assert(
      fc.property(
        options,
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 0, max: 20_000 }),
        (o, a, b, n, previous) => {
          const [lo, hi] = a <= b ? [a, b] : [b, a]
          for (const jitter of ['full', 'equal', 'decorrelated'] as const) {
            const next = exponentialBackoff({ ...o, jitter })
            expect(next(n, previous, () => lo)).toBeLessThanOrEqual(next(n, previous, () => hi))
          }
          const none = exponentialBackoff({ ...o, jitter: 'none' })
          expect(none(n, 0, () => 0)).toBeLessThanOrEqual(none(n + 1, 0, () => 0))
        },
      ),
    )
  })

  it('never returns NaN or Infinity, even when base·factor^n overflows', () => {
    for (const jitter of ['none', 'full', 'equal', 'decorrelated'] as const) {
      const next = exponentialBackoff({ baseDelayMs: 1e300, maxDelayMs: 1000, factor: 4, jitter })
      const d = next(10_000, 1000, seededRandom(3))
      expect(Number.isFinite(d)).toBe(true)
      expect(d).toBeLessThanOrEqual(1000)
    }
  })

  it('is deterministic for a seed and spreads out for different draws', () => {
    const a = delays('full', { baseDelayMs: 100, maxDelayMs: 10_000, factor: 2 }, 42, 6)
    const b = delays('full', { baseDelayMs: 100, maxDelayMs: 10_000, factor: 2 }, 42, 6)
    expect(a).toEqual(b)
    expect(new Set(a).size).toBe(6)
  })

  it('defaults: full jitter, base 100 ms, factor 2, cap 10 s', () => {
    const next = exponentialBackoff()
    expect(next(0, 0, () => 0.999_999)).toBeCloseTo(100, 0)
    expect(next(3, 0, () => 0.5)).toBe(400)
    expect(next(40, 0, () => 0.5)).toBe(5_000)
  })

  it('rejects unsafe options', () => {
    expect(() => exponentialBackoff({ maxDelayMs: Number.POSITIVE_INFINITY })).toThrow(RangeError)
    expect(() => exponentialBackoff({ baseDelayMs: -1 })).toThrow(RangeError)
    expect(() => exponentialBackoff({ factor: 0.5 })).toThrow(RangeError)
    expect(() => exponentialBackoff({ jitter: 'wild' as Jitter })).toThrow(RangeError)
  })
})
