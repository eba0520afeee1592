import { manualClock, seededRandom } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chaosFault, chaosLatency } from './index.ts'

describe('injection rates (seeded random)', () => {
  it('injects exactly the calls whose draw falls below the rate, and nothing else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        fc.integer({ min: 1, max: 300 }),
        async (rate, seed, calls) => {
          const fault = chaosFault({ injectionRate: rate, random: seededRandom(seed) })
          let injected = 0
          for (let i = 0; i < calls; i++) {
            await fault.execute(async () => 1).catch(() => injected++)
          }
          // Replay the same seeded sequence: the policy must have drawn once per call
          // (none at rate 0 or 1, which need no draw).
          const replay = seededRandom(seed)
          let expected = 0
          for (let i = 0; i < calls; i++) {
            if (rate >= 1 || (rate > 0 && replay() < rate)) expected++
          }
          expect(injected).toBe(expected)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('the observed rate converges on injectionRate', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (rate, seed) => {
        const fault = chaosFault({ injectionRate: rate, random: seededRandom(seed) })
        let injected = 0
        fault.events.on('injected', () => injected++)
        const n = 4_000
        for (let i = 0; i < n; i++) fault.execute(() => 1).catch(() => {})
        // 5 standard deviations of a binomial: a wrong rate fails, noise does not.
        const sd = Math.sqrt(n * rate * (1 - rate))
        expect(Math.abs(injected - n * rate)).toBeLessThanOrEqual(5 * sd + 1)
      }),
      { numRuns: 15 },
    )
  })

  it('a disabled policy never injects, whatever the rate, and consumes no randomness', async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0, max: 1, noNaN: true }), async (rate) => {
        let draws = 0
        const fault = chaosFault({
          injectionRate: rate,
          enabled: false,
          random: () => {
            draws++
            return 0
          },
        })
        for (let i = 0; i < 50; i++) await expect(fault.execute(async () => i)).resolves.toBe(i)
        expect(draws).toBe(0)
      }),
      { numRuns: 50 },
    )
  })

  it('random latencies stay within [min, max] and the wait lasts exactly that long', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer(),
        async (a, b, seed) => {
          const [min, max] = a <= b ? [a, b] : [b, a]
          const clock = manualClock()
          const slow = chaosLatency({
            injectionRate: 1,
            latencyMs: { min, max },
            clock,
            random: seededRandom(seed),
          })
          let latency = -1
          slow.events.on('injected', (e) => {
            latency = e.latencyMs
          })
          let ranAt = -1
          const p = slow.execute(async () => {
            ranAt = clock.now()
          })
          await clock.advanceAsync(max)
          await p
          expect(latency).toBeGreaterThanOrEqual(min)
          expect(latency).toBeLessThanOrEqual(max)
          expect(ranAt).toBe(latency)
          expect(clock.pending()).toBe(0)
        },
      ),
      { numRuns: 200 },
    )
  })
})
