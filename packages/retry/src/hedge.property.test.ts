import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hedge, isHedgeLostError, retryBudget } from './index.ts'
import { drive, steppingClock, work } from './testing.ts'

const scenario = fc.record({
  delayMs: fc.integer({ min: 0, max: 500 }),
  maxHedgedAttempts: fc.integer({ min: 0, max: 10 }),
  latencies: fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 11, maxLength: 11 }),
  /** Hedges the budget allows (its floor, with nothing deposited). */
  budget: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
})

/**
 * The schedule a hedged call must follow, computed independently: attempt k starts at
 * (k−1)·delay while no earlier attempt has answered (a hedge due at the very moment of an
 * answer still starts: the timer fires before the answer's continuation runs) and the
 * budget allows it; the earliest answer wins, ties to the earlier attempt.
 */
function model(s: {
  delayMs: number
  maxHedgedAttempts: number
  latencies: readonly number[]
  budget: number | undefined
}): { starts: number[]; winner: number; end: number } {
  const starts = [0]
  const ends = [s.latencies[0] as number]
  for (let k = 1; k <= s.maxHedgedAttempts; k++) {
    const at = k * s.delayMs
    if (Math.min(...ends) < at) break
    if (s.budget !== undefined && k > s.budget) break
    starts.push(at)
    ends.push(at + (s.latencies[k] as number))
  }
  const end = Math.min(...ends)
  return { starts, winner: ends.indexOf(end) + 1, end }
}

describe('hedge() properties (manual clock)', () => {
  it('follows the schedule: starts one delay apart, the earliest answer wins at its time, every loser is aborted, hedges never exceed the budget, nothing is left pending', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const clock = steppingClock()
        const budget =
          s.budget === undefined
            ? undefined
            : // ratio 0: only the floor (s.budget retries over a window longer than any call).
              retryBudget({ clock, ratio: 0, minRetriesPerSecond: s.budget / 1000, ttlMs: 1e6 })
        const policy = hedge({
          clock,
          delayMs: s.delayMs,
          maxHedgedAttempts: s.maxHedgedAttempts,
          budget,
        })
        let hedgeEvents = 0
        policy.events.on('hedge', () => hedgeEvents++)
        const starts: number[] = []
        const signals: AbortSignal[] = []
        const result = await drive(
          clock,
          policy.execute(async ({ signal, attempt }) => {
            starts.push(clock.now())
            signals.push(signal)
            await work(clock, s.latencies[attempt - 1] as number, signal)
            return attempt
          }),
        )
        const expected = model(s)
        expect(starts).toEqual(expected.starts)
        expect(result).toBe(expected.winner)
        expect(clock.now()).toBe(expected.end)
        expect(hedgeEvents).toBe(starts.length - 1)
        signals.forEach((signal, i) => {
          expect(signal.aborted).toBe(i + 1 !== expected.winner)
          if (signal.aborted) expect(isHedgeLostError(signal.reason)).toBe(true)
        })
        if (s.budget !== undefined) expect(starts.length - 1).toBeLessThanOrEqual(s.budget)
        expect(clock.pending()).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  it('over many calls, hedges sent ≤ the budget ratio × calls + its floor', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          ratio: fc.double({ min: 0, max: 1, noNaN: true }),
          floor: fc.integer({ min: 0, max: 5 }),
          calls: fc.integer({ min: 1, max: 60 }),
          slow: fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }),
        }),
        async (s) => {
          const clock = steppingClock()
          const budget = retryBudget({
            clock,
            ratio: s.ratio,
            minRetriesPerSecond: s.floor / 1000,
            ttlMs: 1e6,
          })
          const policy = hedge({ clock, delayMs: 10, maxHedgedAttempts: 3, budget })
          let attempts = 0
          for (let i = 0; i < s.calls; i++) {
            const slow = s.slow[i % s.slow.length] as boolean
            await drive(
              clock,
              policy.execute(async ({ signal, attempt }) => {
                attempts++
                await work(clock, slow && attempt === 1 ? 100 : 35, signal)
              }),
            )
          }
          const hedges = attempts - s.calls
          // The budget counts in thousandths, as retryBudget does.
          expect(hedges).toBeLessThanOrEqual(
            Math.floor((Math.round(s.ratio * 1000) * s.calls) / 1000) + s.floor,
          )
        },
      ),
      { numRuns: 200 },
    )
  })
})
