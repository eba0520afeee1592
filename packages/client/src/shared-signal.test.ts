/**
 * Calls with no caller signal (a compensating call detached from its request) share the
 * process-wide never-aborting signal: no call may leave a listener on it, and many at
 * once must not trip MaxListenersExceededWarning.
 */
import { getEventListeners } from 'node:events'
import { neverAborts } from '@sturdy/core'
import { timerWheel } from '@sturdy/timeout'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient } from './index.ts'
import { json, startServer } from './testing.ts'

const warnings: Error[] = []
const onWarning = (w: Error): void => {
  warnings.push(w)
}
process.on('warning', onWarning)
afterAll(() => {
  process.off('warning', onWarning)
})

describe('calls without a caller signal', () => {
  it('add no listener to a shared signal, even 40 at once with retries and hangs', async () => {
    const s = await startServer((_req, res, n) => {
      if (n % 3 === 0) json(res, 503, { title: 'down' })
      else if (n % 3 === 1)
        return // hangs: the attempt timeout ends it
      else json(res, 200, { ok: true })
    })
    const wheel = timerWheel()
    const c = createClient({
      baseUrl: s.url,
      wheel,
      breaker: false,
      attemptTimeoutMs: 50,
      retry: { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
    })
    let peak = 0
    const sample = setInterval(() => {
      peak = Math.max(peak, getEventListeners(neverAborts(), 'abort').length)
    }, 1)
    try {
      const calls = Array.from({ length: 40 }, (_, i) =>
        c
          .json('/x', { method: 'POST', idempotent: true, json: { i }, timeoutMs: 2000 })
          .catch((e: unknown) => e),
      )
      await Promise.all(calls)
    } finally {
      clearInterval(sample)
      await c.close()
      await s.close()
    }
    expect(getEventListeners(neverAborts(), 'abort')).toHaveLength(0)
    expect(peak).toBe(0)
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })
})
