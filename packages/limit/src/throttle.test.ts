import { TimeoutError } from '@sturdy/core'
import { manualClock, seededRandom } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isThrottledError, ThrottledError } from './errors.ts'
import { adaptiveThrottle } from './throttle.ts'

const ok = async (): Promise<{ status: number }> => ({ status: 200 })
const refused = async (): Promise<{ status: number }> => ({ status: 503 })

describe('adaptiveThrottle (Google SRE client-side throttling)', () => {
  it('never rejects while the backend accepts', async () => {
    const throttle = adaptiveThrottle({ random: () => 0 })
    for (let i = 0; i < 100; i++) await throttle.execute(ok)
    expect(throttle.probability()).toBe(0)
    expect(throttle.counts()).toEqual({ requests: 100, accepts: 100 })
  })

  it('rejects with p = max(0, (requests − k·accepts) / (requests + 1))', async () => {
    const throttle = adaptiveThrottle({ k: 2, random: () => 0.999999, clock: manualClock() })
    for (let i = 0; i < 10; i++) await throttle.execute(ok)
    for (let i = 0; i < 40; i++) await throttle.execute(refused)
    // 50 requests, 10 accepts: (50 − 20) / 51
    expect(throttle.counts()).toEqual({ requests: 50, accepts: 10 })
    expect(throttle.probability()).toBeCloseTo(30 / 51, 12)
  })

  it('property: the probability follows the formula for any history', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.boolean(), { maxLength: 200 }),
        fc.double({ min: 1, max: 4, noNaN: true }),
        async (outcomes, k) => {
          // random() = 1 − ε never throttles, so every call reaches the "backend".
          const throttle = adaptiveThrottle({ k, random: () => 0.9999999999 })
          for (const accepted of outcomes) await throttle.execute(accepted ? ok : refused)
          const accepts = outcomes.filter(Boolean).length
          const expected = Math.max(0, (outcomes.length - k * accepts) / (outcomes.length + 1))
          expect(throttle.probability()).toBeCloseTo(expected, 9)
          expect(throttle.probability()).toBeLessThan(1)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('rejects locally (the call never runs) and counts the rejection as a request', async () => {
    let draw = 0.9999999999
    const throttle = adaptiveThrottle({ name: 'orders', random: () => draw })
    for (let i = 0; i < 10; i++) await throttle.execute(refused)
    draw = 0
    let ran = false
    const shed: unknown[] = []
    throttle.events.on('shed', (e) => shed.push(e))
    const error = await throttle
      .execute(async () => {
        ran = true
        return { status: 200 }
      })
      .catch((e: unknown) => e)
    expect(ran).toBe(false)
    expect(isThrottledError(error)).toBe(true)
    expect(error).toBeInstanceOf(ThrottledError)
    expect((error as ThrottledError).status).toBe(503)
    expect(shed).toEqual([{ name: 'orders', reason: 'throttled', priority: 'normal' }])
    expect(throttle.counts()).toEqual({ requests: 11, accepts: 0 })
  })

  it('timeouts and thrown 429/503 are rejections; other errors and a caller leaving are accepts', async () => {
    const throttle = adaptiveThrottle({ random: () => 0.9999999999 })
    await throttle
      .execute(async () => {
        throw new TimeoutError()
      })
      .catch(() => {})
    await throttle
      .execute(async () => {
        throw Object.assign(new Error('busy'), { status: 429 })
      })
      .catch(() => {})
    await throttle
      .execute(async () => {
        throw new Error('bad request')
      })
      .catch(() => {})
    const gone = new AbortController()
    gone.abort(new Error('caller left'))
    await throttle
      .execute(async () => {
        throw new Error('aborted')
      }, gone.signal)
      .catch(() => {})
    expect(throttle.counts()).toEqual({ requests: 4, accepts: 2 })
  })

  it('forgets old counts as the window rolls, so a recovered backend is sent everything again', async () => {
    const clock = manualClock()
    const throttle = adaptiveThrottle({
      windowMs: 60_000,
      buckets: 6,
      clock,
      random: () => 0.9999999999,
    })
    for (let i = 0; i < 30; i++) await throttle.execute(refused)
    expect(throttle.probability()).toBeGreaterThan(0.9)
    clock.advance(30_000)
    for (let i = 0; i < 30; i++) await throttle.execute(ok)
    // 60 requests, 30 accepts, k = 2: no rejection any more.
    expect(throttle.probability()).toBe(0)
    clock.advance(35_000) // the refused half has aged out
    expect(throttle.counts()).toEqual({ requests: 30, accepts: 30 })
    clock.advance(600_000)
    expect(throttle.counts()).toEqual({ requests: 0, accepts: 0 })
  })

  it('with a real random source, about p of the calls are rejected', async () => {
    const throttle = adaptiveThrottle({ random: seededRandom(7), k: 2 })
    for (let i = 0; i < 20; i++) await throttle.execute(ok)
    let rejected = 0
    let calls = 0
    for (let i = 0; i < 2000; i++) {
      calls++
      await throttle.execute(refused).catch((e: unknown) => {
        if (isThrottledError(e)) rejected++
      })
    }
    // Local rejections keep counting as requests: p rises toward 1 − 2·accepts/requests.
    expect(rejected / calls).toBeGreaterThan(0.8)
    expect(throttle.stats()).toEqual({ limit: Number.POSITIVE_INFINITY, inflight: 0, queued: 0 })
  })

  it('refuses nonsense options', () => {
    expect(() => adaptiveThrottle({ k: 0 })).toThrow(/k must be/)
    expect(() => adaptiveThrottle({ windowMs: 0 })).toThrow(/windowMs/)
  })
})
