import { seededRandom } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { httpRetryableResult, retry } from './index.ts'
import { drive, steppingClock, work } from './testing.ts'

type Outcome = 'error' | 'result' | 'ok'

const scenario = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 8 }),
  jitter: fc.constantFrom('full', 'equal', 'decorrelated', 'none' as const),
  baseDelayMs: fc.integer({ min: 0, max: 800 }),
  maxDelayMs: fc.integer({ min: 0, max: 4_000 }),
  deadline: fc.option(fc.integer({ min: 1, max: 12_000 }), { nil: undefined }),
  minAttemptMs: fc.integer({ min: 0, max: 1_500 }),
  durations: fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 10 }),
  outcomes: fc.array(fc.constantFrom<Outcome>('error', 'error', 'result', 'ok'), {
    minLength: 1,
    maxLength: 10,
  }),
  pushbacks: fc.array(fc.option(fc.integer({ min: 0, max: 6_000 }), { nil: undefined }), {
    minLength: 1,
    maxLength: 10,
  }),
  seed: fc.integer(),
})

describe('retry() properties (manual clock, seeded random)', () => {
  it('total time never exceeds the deadline, no attempt starts without minAttemptMs left, attempts ≤ maxAttempts, nothing left pending', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const clock = steppingClock()
        const policy = retry({
          clock,
          random: seededRandom(s.seed),
          maxAttempts: s.maxAttempts,
          jitter: s.jitter,
          baseDelayMs: s.baseDelayMs,
          maxDelayMs: s.maxDelayMs,
          deadline: s.deadline,
          minAttemptMs: s.minAttemptMs,
          maxPushbackMs: 5_000,
          retryOnResult: httpRetryableResult,
        })
        const delays: number[] = []
        policy.events.on('retry', (e) => delays.push(e.delayMs))
        const starts: number[] = []
        const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length] as T
        const p = policy.execute(async ({ signal, attempt }) => {
          starts.push(clock.now())
          await work(clock, pick(s.durations, attempt - 1), signal)
          const outcome = pick(s.outcomes, attempt - 1)
          const retryAfterMs = pick(s.pushbacks, attempt - 1)
          if (outcome === 'error') throw Object.assign(new Error(`a${attempt}`), { retryAfterMs })
          return { status: outcome === 'result' ? 503 : 200 }
        })
        await drive(clock, p).catch(() => undefined)
        const end = clock.now()

        expect(starts.length).toBeLessThanOrEqual(s.maxAttempts)
        if (s.deadline !== undefined) {
          expect(end).toBeLessThanOrEqual(s.deadline)
          for (const t of starts) expect(t + s.minAttemptMs).toBeLessThan(s.deadline)
        }
        for (const d of delays) {
          expect(d).toBeGreaterThanOrEqual(0)
          expect(d).toBeLessThanOrEqual(Math.max(s.maxDelayMs, 5_000))
        }
        expect(clock.pending()).toBe(0)
      }),
      { numRuns: 300 },
    )
  })

  it('attempts never exceed maxAttempts + maxFreeRetries, whatever consumeAttempt says', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        async (maxAttempts, maxFreeRetries, consumes) => {
          const clock = steppingClock()
          let calls = 0
          const policy = retry({
            clock,
            maxAttempts,
            maxFreeRetries,
            baseDelayMs: 1,
            consumeAttempt: (f) => consumes[(f.attempt - 1) % consumes.length] as boolean,
          })
          await drive(
            clock,
            policy.execute(() => {
              calls++
              throw new Error('x')
            }),
          ).catch(() => undefined)
          expect(calls).toBeLessThanOrEqual(maxAttempts + maxFreeRetries)
          expect(calls).toBeGreaterThanOrEqual(maxAttempts)
          expect(clock.pending()).toBe(0)
        },
      ),
      { numRuns: 200 },
    )
  })
})
