import { concurrencyLimiter } from '@sturdy/limit'
import { describe, expect, it } from 'vitest'
import { logPolicyEvents } from './index.ts'
import { capture } from './testing.ts'

describe('logPolicyEvents with the real @sturdy/limit', () => {
  it('logs shed work and limit changes at debug, each with policy, kind and its fields', async () => {
    let limit = 2
    const limiter = concurrencyLimiter({
      name: 'db',
      limit: {
        get limit() {
          return limit
        },
        onSample: () => {
          limit = 3
        },
      },
    })
    const { logger, lines } = capture({ level: 'debug' })
    const stop = logPolicyEvents(limiter, logger)
    const a = limiter.tryAcquire()
    limiter.tryAcquire('sheddable') // 1 in flight >= 2 × 0.5: shed
    a?.release()
    stop()
    limiter.tryAcquire('critical')
    limiter.tryAcquire('critical')
    limiter.tryAcquire('critical')
    const got = lines()
    expect(got).toHaveLength(2)
    expect(got[0]).toMatchObject({
      level: 20,
      msg: 'shed load',
      policy: 'db',
      kind: 'limit',
      reason: 'limit',
      priority: 'sheddable',
    })
    expect(got[1]).toMatchObject({
      level: 20,
      msg: 'concurrency limit changed',
      policy: 'db',
      kind: 'limit',
      from: 2,
      to: 3,
    })
  })

  it('a level of silent does not subscribe', () => {
    const limiter = concurrencyLimiter({ limit: 1 })
    const { logger, lines } = capture({ level: 'debug' })
    logPolicyEvents(limiter, logger, { levels: { shed: 'silent' } })
    limiter.tryAcquire()
    limiter.tryAcquire()
    expect(lines()).toEqual([])
  })
})
