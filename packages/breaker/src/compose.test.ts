/**
 * A retry in front of a breaker, as the README's Compose recipe has it: while the circuit
 * is open the call fails at once, it never sleeps out the open period (issue #22). Real
 * `retry()` and `circuitBreaker()` on one manual clock. (The recipe's outer `timeout()`
 * is left out: `@sturdy/timeout`'s tests depend on this package, and it only bounds the
 * total.)
 */
import type { RetryEventMap } from '@sturdy/core'
import { compose, isCircuitRejection } from '@sturdy/core'
import type { ManualClock } from '@sturdy/core/testing'
import { manualClock } from '@sturdy/core/testing'
import { retry } from '@sturdy/retry'
import { describe, expect, it } from 'vitest'
import { BrokenCircuitError, circuitBreaker, isBrokenCircuitError } from './index.ts'

const OPEN_MS = 10_000

function setup(clock: ManualClock) {
  const breaker = circuitBreaker({ name: 'payments', openMs: OPEN_MS, clock })
  const retries = retry({ maxAttempts: 10, jitter: 'none', baseDelayMs: 10, clock })
  const gaveUp: RetryEventMap['giveUp'][] = []
  retries.events.on('giveUp', (e) => gaveUp.push(e))
  const policy = compose(retries, breaker)
  return { breaker, policy, gaveUp }
}

/** Whether `p` settles within a few macrotasks, with the clock standing still. */
async function settlesWithoutTime<T>(p: Promise<T>): Promise<boolean> {
  let settled = false
  p.then(
    () => (settled = true),
    () => (settled = true),
  )
  for (let i = 0; i < 20 && !settled; i++) await new Promise((r) => setImmediate(r))
  return settled
}

describe('compose(retry, breaker): an open circuit fails the call at once', () => {
  it('rejects with the BrokenCircuitError without running the call, sleeping, or moving the clock', async () => {
    const clock = manualClock()
    const { breaker, policy, gaveUp } = setup(clock)
    for (let i = 0; i < 6; i++) {
      await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {})
    }
    expect(breaker.state).toBe('open')
    clock.advance(50)

    let calls = 0
    const call = policy.execute(async () => {
      calls++
      return 'paid'
    })
    expect(await settlesWithoutTime(call)).toBe(true)
    const error = await call.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BrokenCircuitError)
    expect(isCircuitRejection(error)).toBe(true)
    expect((error as BrokenCircuitError).retryAfterMs).toBe(OPEN_MS - 50)
    expect(calls).toBe(0)
    expect(clock.now()).toBe(50) // no time passed: nothing slept
    expect(gaveUp).toEqual([{ name: 'retry', attempts: 1, error, reason: 'circuit-open' }])
    expect(clock.pending()).toBe(0)
  })

  it('a dependency that keeps failing trips the breaker mid-retry; the next attempt ends the call at once', async () => {
    const clock = manualClock()
    const { policy, gaveUp } = setup(clock)
    let calls = 0
    const call = policy.execute(async () => {
      calls++
      throw new Error('down')
    })
    let settled = false
    call.catch(() => {}).finally(() => (settled = true))
    for (let step = 0; step < 1000 && !settled; step++) await clock.advanceAsync(10)
    const error = await call.catch((e: unknown) => e)
    // Attempts 1–6 fail (the 6th trips the breaker), attempt 7 is rejected: no more sleeping.
    expect(calls).toBe(6)
    expect(isBrokenCircuitError(error)).toBe(true)
    expect(gaveUp.map((g) => [g.attempts, g.reason])).toEqual([[7, 'circuit-open']])
    // Six backoffs (10 … 320 ms) after the six failures, then the rejection ends the call:
    // 630 ms in all, against a 10 s open period it used to sleep out.
    expect(clock.now()).toBe(630)
  })

  it('a half-open circuit whose trial slot is free admits the retry', async () => {
    const clock = manualClock()
    const { breaker, policy } = setup(clock)
    for (let i = 0; i < 6; i++) {
      await breaker.execute(() => Promise.reject(new Error('down'))).catch(() => {})
    }
    clock.advance(OPEN_MS)
    const call = policy.execute(async () => 'paid')
    expect(await settlesWithoutTime(call)).toBe(true)
    expect(await call).toBe('paid')
    expect(breaker.state).toBe('closed')
  })
})
