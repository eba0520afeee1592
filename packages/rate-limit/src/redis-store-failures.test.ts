import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import { rateLimiter } from './rate-limiter.ts'
import type { RedisClient } from './redis-client.ts'
import { redisStore } from './redis-store.ts'
import { slidingWindow } from './sliding-window.ts'

/** Clients that fail in every way an adapter can, none of them a real Redis. */
const clients: Record<string, RedisClient> = {
  'throws synchronously': {
    evalsha: () => {
      throw new Error('sync')
    },
    scriptLoad: () => {
      throw new Error('sync')
    },
  },
  rejects: {
    evalsha: () => Promise.reject(new Error('ECONNRESET')),
    scriptLoad: () => Promise.resolve('sha'),
  },
  'answers garbage': {
    evalsha: () => Promise.resolve('OK'),
    scriptLoad: () => Promise.resolve('sha'),
  },
}

describe('redisStore never fails a decision because its client did', () => {
  it.each(Object.entries(clients))(
    'a client that %s: the local fallback decides',
    async (_name, client) => {
      const clock = manualClock()
      const limiter = rateLimiter({
        algorithm: slidingWindow({ limit: 1 }),
        store: redisStore({ client, retryMs: 0, clock }),
        clock,
      })
      const first = await limiter.consume('k')
      const second = await limiter.consume('k')
      expect([first.allowed, second.allowed]).toEqual([true, false])
      expect([first.degraded?.reason, second.degraded?.reason]).toEqual(['error', 'error'])
      expect(clock.pending()).toBe(0)
    },
  )

  it('refuses a store without a client, and a bad timeout, with clear errors', () => {
    expect(() => redisStore({} as never)).toThrow(/needs a client/)
    expect(() => redisStore({ client: clients.rejects as RedisClient, timeoutMs: 0 })).toThrow(
      /timeoutMs/,
    )
  })
})
