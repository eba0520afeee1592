import { circuitBreaker } from '@sturdy/breaker'
import { compose } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { retry } from '@sturdy/retry'
import { describe, expect, it } from 'vitest'
import { logPolicyEvents } from './index.ts'
import { capture } from './testing.ts'

describe('logPolicyEvents with the real @sturdy/retry and @sturdy/breaker', () => {
  it('logs the retries, the breaker opening and the give-up of one failing call', async () => {
    const clock = manualClock()
    const breaker = circuitBreaker({
      name: 'payments',
      readyToTrip: (counts) => counts.consecutiveFailures >= 2,
      clock,
    })
    const retrying = retry({
      name: 'payments-retry',
      maxAttempts: 3,
      delay: () => 0, // no timer: the test needs no clock advance
      retryOn: () => true,
      clock,
    })
    const { logger, lines } = capture({ level: 'debug' })
    const stop = logPolicyEvents([retrying, breaker], logger)

    const call = compose(retrying, breaker).execute(async () => {
      throw new Error('ECONNREFUSED')
    })
    await expect(call).rejects.toThrow()
    stop()

    const got = lines()
    const byMsg = (msg: string) => got.filter((l) => l.msg === msg)
    expect(byMsg('retrying after failure').map((l) => [l.level, l.attempt])).toEqual([
      [20, 1],
      [20, 2],
    ])
    expect(byMsg('circuit breaker state changed')).toEqual([
      expect.objectContaining({ level: 40, policy: 'payments', from: 'closed', to: 'open' }),
    ])
    expect(byMsg('gave up retrying')).toEqual([
      expect.objectContaining({
        level: 30,
        policy: 'payments-retry',
        attempts: 3,
        reason: 'max-attempts',
      }),
    ])
    // Nothing is written once the disposer ran.
    const before = got.length
    await compose(retrying, breaker)
      .execute(async () => 'ok')
      .catch(() => undefined)
    expect(lines()).toHaveLength(before)
  })
})
