import { manualClock } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { retryBudget } from './index.ts'

describe('retryBudget(): Finagle semantics', () => {
  it('defaults: 20% of requests + 10 retries/s over 10 s', () => {
    const clock = manualClock()
    const budget = retryBudget({ clock })
    expect(budget.available()).toBe(100) // the floor: 10/s × 10 s
    for (let i = 0; i < 50; i++) budget.deposit()
    expect(budget.available()).toBe(110) // + 20% of 50
    let granted = 0
    while (budget.tryWithdraw()) granted++
    expect(granted).toBe(110)
    expect(budget.available()).toBe(0)
    expect(budget.tryWithdraw()).toBe(false)
  })

  it('credit and debit expire after the TTL, so the budget refills', () => {
    const clock = manualClock()
    const budget = retryBudget({
      ratio: 0.5,
      minRetriesPerSecond: 0,
      ttlMs: 1000,
      buckets: 10,
      clock,
    })
    for (let i = 0; i < 10; i++) budget.deposit()
    expect(budget.available()).toBe(5)
    expect(budget.tryWithdraw()).toBe(true)
    clock.advance(999)
    expect(budget.available()).toBe(4)
    clock.advance(1) // the bucket holding the deposits and the withdrawal leaves the window
    expect(budget.available()).toBe(0)
    budget.deposit()
    budget.deposit()
    expect(budget.available()).toBe(1)
    clock.advance(50_000) // a long idle gap clears everything without looping per bucket
    expect(budget.available()).toBe(0)
  })

  it('a withdrawal against the floor is repaid when it expires', () => {
    const clock = manualClock()
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 1, ttlMs: 2000, clock })
    expect(budget.tryWithdraw()).toBe(true)
    expect(budget.tryWithdraw()).toBe(true)
    expect(budget.tryWithdraw()).toBe(false)
    clock.advance(2000)
    expect(budget.available()).toBe(2)
  })

  it('property: within any window, granted retries ≤ ratio × requests + floor × ttl', () => {
    const step = fc.oneof(
      fc.constant<'req'>('req'),
      fc.constant<'retry'>('retry'),
      fc.integer({ min: 1, max: 400 }),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 100, max: 2000 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(step, { maxLength: 300 }),
        (ratio, floor, ttlMs, buckets, steps) => {
          const clock = manualClock()
          const budget = retryBudget({ ratio, minRetriesPerSecond: floor, ttlMs, buckets, clock })
          const deposits: number[] = []
          const granted: number[] = []
          const reserve = Math.floor(floor * (ttlMs / 1000) * 1000) / 1000
          const bucketMs = ttlMs / buckets
          for (const s of steps) {
            if (s === 'req') {
              budget.deposit()
              deposits.push(clock.now())
            } else if (s === 'retry') {
              const t = clock.now()
              if (!budget.tryWithdraw()) continue
              granted.push(t)
              // Credit counted for a withdrawal at t lives at least ttl − one bucket and at most ttl.
              const recent = granted.filter((g) => g > t - (ttlMs - bucketMs)).length
              const credit = deposits.filter((d) => d > t - ttlMs).length
              expect(recent).toBeLessThanOrEqual(
                reserve + (Math.round(ratio * 1000) / 1000) * credit + 1e-9,
              )
            } else {
              clock.advance(s)
            }
          }
          expect(budget.available()).toBeGreaterThanOrEqual(0)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rejects nonsense options', () => {
    expect(() => retryBudget({ ratio: -0.1 })).toThrow(RangeError)
    expect(() => retryBudget({ minRetriesPerSecond: Number.NaN })).toThrow(RangeError)
    expect(() => retryBudget({ ttlMs: 0 })).toThrow(RangeError)
    expect(() => retryBudget({ buckets: 0.5 })).toThrow(RangeError)
  })
})
