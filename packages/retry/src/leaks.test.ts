import { getEventListeners, setMaxListeners } from 'node:events'
import type { Clock } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import { describe, expect, it, vi } from 'vitest'
import type { RetryPolicy } from './index.ts'
import { retry } from './index.ts'
import { drive, steppingClock } from './testing.ts'

const BATCH = 100
const macrotask = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Runs `total` failing calls in batches, aborting each batch while it sleeps between attempts. */
async function abortWhileSleeping(
  policy: RetryPolicy,
  total: number,
  sleeping: () => number,
): Promise<number> {
  let rejected = 0
  for (let b = 0; b < total / BATCH; b++) {
    const controllers = Array.from({ length: BATCH }, () => new AbortController())
    const calls = controllers.map((c) =>
      policy.execute(() => Promise.reject(new Error('down')), c.signal),
    )
    await macrotask()
    expect(sleeping()).toBe(BATCH) // every call is asleep on a timer
    // Asleep, a call listens on its caller's signal (or nothing is being tested).
    expect(getEventListeners((controllers[0] as AbortController).signal, 'abort')).not.toHaveLength(
      0,
    )
    for (const c of controllers) c.abort(new Error('caller gave up'))
    const settled = await Promise.allSettled(calls)
    rejected += settled.filter((s) => s.status === 'rejected').length
    for (const c of controllers) expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
  }
  return rejected
}

describe('no listener or timer leaks', () => {
  it('10,000 retries aborted mid-sleep, with a deadline (sleep timer + deadline timer + linked signal per call)', async () => {
    const clock = steppingClock()
    const policy = retry({ clock, jitter: 'none', baseDelayMs: 5_000, maxElapsedMs: 1e9 })
    let aborted = 0
    policy.events.on('giveUp', (e) => {
      if (e.reason === 'aborted') aborted++
    })
    // Asleep, each call holds two timers: its sleep and its deadline.
    const rejected = await abortWhileSleeping(policy, 10_000, () => clock.pending() / 2)
    expect(rejected).toBe(10_000)
    expect(aborted).toBe(10_000)
    expect(clock.pending()).toBe(0)
    expect(clock.now()).toBe(0) // every sleep ended by abort, none by time
  }, 30_000) // a few seconds on a loaded 2-core box; nothing in it waits on real time

  it('system clock: 1,000 aborted retries leave no platform timer behind', async () => {
    // Unref'd timers do not show in process.getActiveResourcesInfo(), so count them at
    // the seam: the real systemClock underneath, every handle accounted for.
    const live = new Set<unknown>()
    const clock: Clock = {
      now: () => systemClock.now(),
      setTimeout(fn, ms) {
        const handle = systemClock.setTimeout(() => {
          live.delete(handle)
          fn()
        }, ms)
        live.add(handle)
        return handle
      },
      clearTimeout(handle) {
        live.delete(handle)
        systemClock.clearTimeout(handle)
      },
    }
    const policy = retry({ clock, jitter: 'none', baseDelayMs: 60_000 })
    expect(await abortWhileSleeping(policy, 1_000, () => live.size)).toBe(1_000)
    expect(live.size).toBe(0)
  })

  it('by default a sleeping retry keeps the process alive (a script awaiting it must not exit); unref: true does not', async () => {
    // Capture the platform timers the call creates, rather than counting every timer in
    // the process (the test runner has its own, which made a count flaky under load).
    for (const [unref, keepsAlive] of [
      [false, true],
      [true, false],
    ] as const) {
      const created: NodeJS.Timeout[] = []
      const real = globalThis.setTimeout
      const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
        fn: () => void,
        ms?: number,
      ) => {
        const handle = real(fn, ms)
        created.push(handle)
        return handle
      }) as typeof setTimeout)
      const cleared = new Set<unknown>()
      const realClear = globalThis.clearTimeout
      const clearSpy = vi.spyOn(globalThis, 'clearTimeout').mockImplementation(((
        handle?: NodeJS.Timeout,
      ) => {
        cleared.add(handle)
        realClear(handle)
      }) as typeof clearTimeout)
      const caller = new AbortController()
      try {
        const p = retry({ unref, jitter: 'none', baseDelayMs: 60_000 }).execute(
          () => Promise.reject(new Error('down')),
          caller.signal,
        )
        await macrotask()
        const sleeps = created.filter((t) => t.hasRef() === keepsAlive)
        expect(sleeps.length).toBeGreaterThanOrEqual(1)
        caller.abort()
        await p.catch(() => undefined)
      } finally {
        spy.mockRestore()
        clearSpy.mockRestore()
      }
      // Aborting cleared the sleep: no timer the call created is left pending.
      expect(created.filter((t) => !cleared.has(t))).toEqual([])
    }
  })

  it('a long-lived signal (server shutdown) shared by 1,000 calls ends with no listener on it', async () => {
    const clock = steppingClock()
    const shutdown = new AbortController()
    setMaxListeners(2 * BATCH, shutdown.signal)
    const plain = retry({ clock, baseDelayMs: 10 })
    const bounded = retry({ clock, baseDelayMs: 10, maxElapsedMs: 25 })
    for (let b = 0; b < 1_000 / BATCH; b++) {
      const calls = Array.from({ length: BATCH }, (_, i) =>
        // Half run out of attempts, half hit their deadline; none is aborted.
        (i % 2 === 0 ? plain : bounded).execute(
          () => Promise.reject(new Error('down')),
          shutdown.signal,
        ),
      )
      await drive(clock, Promise.allSettled(calls))
    }
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    expect(clock.pending()).toBe(0)
  })

  it('1,000 concurrent calls asleep on one long-lived signal: one listener per policy, no warning, and the abort reaches them all', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    try {
      const clock = steppingClock()
      const shutdown = new AbortController()
      const plain = retry({ clock, baseDelayMs: 10_000 })
      const bounded = retry({ clock, baseDelayMs: 10_000, maxElapsedMs: 60_000 })
      const calls = Array.from({ length: 1000 }, (_, i) =>
        (i % 2 === 0 ? plain : bounded).execute(
          () => Promise.reject(new Error('down')),
          shutdown.signal,
        ),
      )
      await macrotask()
      // Every call sleeps before its second attempt, each policy listening once.
      expect(getEventListeners(shutdown.signal, 'abort').length).toBeLessThanOrEqual(2)
      const reason = new Error('shutting down')
      shutdown.abort(reason)
      const settled = await Promise.allSettled(calls)
      expect(settled.every((r) => r.status === 'rejected' && r.reason === reason)).toBe(true)
      expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
      expect(clock.pending()).toBe(0)
      await macrotask()
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })
})
