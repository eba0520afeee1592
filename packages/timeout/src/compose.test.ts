/**
 * timeout() composed with the real @sturdy/retry and @sturdy/breaker through core
 * compose(): a total timeout outside the retries, a per-attempt timeout inside.
 */
import { circuitBreaker } from '@sturdy/breaker'
import type { TimeoutError } from '@sturdy/core'
import { compose, isTimeoutError } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { retry } from '@sturdy/retry'
import { describe, expect, it } from 'vitest'
import { timeout, timerWheel } from './index.ts'

function setup(totalMs: number, attemptMs: number) {
  const clock = manualClock()
  const wheel = timerWheel({ clock })
  const attempts: Array<{ attempt: number; at: number; signal: AbortSignal }> = []
  const timeouts: string[] = []
  const total = timeout(totalMs, { wheel, name: 'total' })
  const perAttempt = timeout(attemptMs, { wheel, name: 'attempt' })
  for (const t of [total, perAttempt]) {
    t.events.on('timeout', (e) => timeouts.push(`${e.name}@${clock.now()}`))
  }
  const breaker = circuitBreaker({ clock, name: 'inventory' })
  const failures: number[] = []
  breaker.events.on('failure', () => failures.push(clock.now()))
  // random 0: full jitter gives 0 ms between attempts, so the timeline is exact.
  const policy = compose(
    total,
    retry({ clock, random: () => 0, maxAttempts: 5 }),
    breaker,
    perAttempt,
  )
  const call = policy
    .execute(({ signal, attempt }) => {
      attempts.push({ attempt, at: clock.now(), signal })
      return new Promise<never>(() => {}) // a dependency that never answers
    })
    .then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error, at: clock.now() }),
    )
  return { clock, wheel, attempts, timeouts, failures, call }
}

describe('timeout() in compose() with the real retry and breaker', () => {
  it('per-attempt timeouts inside the retry: each attempt gets its own budget', async () => {
    const { clock, wheel, attempts, timeouts, failures, call } = setup(10_000, 100)
    for (let i = 0; i < 10; i++) await clock.advanceAsync(100)
    const r = await call
    expect(attempts.map((a) => [a.attempt, a.at])).toEqual([
      [1, 0],
      [2, 100],
      [3, 200],
      [4, 300],
      [5, 400],
    ])
    expect(attempts.every((a) => a.signal.aborted && isTimeoutError(a.signal.reason))).toBe(true)
    expect(r.ok).toBe(false)
    const error = (r as { error: TimeoutError }).error
    expect([isTimeoutError(error), error.timeoutMs]).toEqual([true, 100])
    expect(timeouts).toEqual([
      'attempt@100',
      'attempt@200',
      'attempt@300',
      'attempt@400',
      'attempt@500',
    ])
    expect(failures).toEqual([100, 200, 300, 400, 500])
    expect(wheel.size).toBe(0)
  })

  it('the total timeout outside the retry ends everything, the running attempt included', async () => {
    const { clock, wheel, attempts, timeouts, call } = setup(250, 100)
    for (let i = 0; i < 10; i++) await clock.advanceAsync(50)
    const r = await call
    expect(attempts.map((a) => a.at)).toEqual([0, 100, 200])
    expect(r).toMatchObject({ ok: false, at: 250 })
    expect((r as { error: TimeoutError }).error.timeoutMs).toBe(250)
    expect(timeouts).toEqual(['attempt@100', 'attempt@200', 'total@250'])
    // The third attempt's signal aborted at the total deadline, with its reason.
    expect(attempts[2]?.signal.reason).toBe((r as { error: unknown }).error)
    expect(wheel.size).toBe(0)
    await clock.advanceAsync(1000)
    expect(clock.pending()).toBe(0)
  })
})
