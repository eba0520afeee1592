import { problemFromError, problemHeaders } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import { isRateLimitedError, RateLimitedError } from './errors.ts'
import { rateLimitPolicy } from './rate-limit-policy.ts'
import { tokenBucket } from './token-bucket.ts'

describe('rateLimitPolicy()', () => {
  it('runs calls within quota, passing signal and attempt through, and refuses the rest with RateLimitedError', async () => {
    const clock = manualClock()
    const policy = rateLimitPolicy({
      limiter: { name: 'partner', algorithm: tokenBucket({ limit: 2, windowMs: 1000 }), clock },
      clock,
    })
    const signal = new AbortController().signal
    const seen: unknown[] = []
    const call = () =>
      policy.execute(
        (ctx) => {
          seen.push(ctx.signal === signal, ctx.attempt)
          return 'ok'
        },
        signal,
        3,
      )
    expect(await call()).toBe('ok')
    expect(await call()).toBe('ok')
    const error = await call().catch((e: unknown) => e)
    expect(isRateLimitedError(error)).toBe(true)
    expect(error).toMatchObject({ limiter: 'partner', retryAfterMs: 500, status: 429 })
    expect(seen).toEqual([true, 3, true, 3])
    // it renders as 429 with Retry-After, like any Sturdy error
    expect(problemFromError(error)).toMatchObject({ status: 429, code: 'RATE_LIMITED' })
    expect(problemHeaders(error)).toEqual({ 'retry-after': '1' })
    expect(policy.kind).toBe('rate-limit')
    expect(policy.name).toBe('partner')
  })

  it('waits for quota up to maxWaitMs, then runs the call', async () => {
    const clock = manualClock()
    const policy = rateLimitPolicy({
      limiter: { algorithm: tokenBucket({ limit: 1, windowMs: 1000 }), clock },
      maxWaitMs: 1000,
      clock,
    })
    await policy.execute(() => 'first')
    let done = false
    const second = policy
      .execute(() => 'second')
      .then((v) => {
        done = true
        return v
      })
    await clock.advanceAsync(999)
    expect(done).toBe(false)
    await clock.advanceAsync(1)
    expect(await second).toBe('second')
    // a wait longer than maxWaitMs is refused at once
    const short = rateLimitPolicy({ limiter: policy.limiter, maxWaitMs: 500, clock })
    await expect(short.execute(() => 'third')).rejects.toBeInstanceOf(RateLimitedError)
    expect(clock.pending()).toBe(0)
  })

  it('an abort during the wait rejects with its reason and leaves no timer', async () => {
    const clock = manualClock()
    const policy = rateLimitPolicy({
      limiter: { algorithm: tokenBucket({ limit: 1, windowMs: 1000 }), clock },
      maxWaitMs: 5000,
      clock,
    })
    await policy.execute(() => 'first')
    const controller = new AbortController()
    const waiting = policy.execute(() => 'never', controller.signal)
    await clock.advanceAsync(100)
    expect(clock.pending()).toBe(1)
    const reason = new Error('caller gave up')
    controller.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    expect(clock.pending()).toBe(0)
  })
})
