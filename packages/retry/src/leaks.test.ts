import { getEventListeners, setMaxListeners } from 'node:events'
import type { Clock } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import { describe, expect, it } from 'vitest'
import { retry } from './index.ts'
import { steppingClock } from './test-kit.ts'

const CALLS = 10_000
const BATCH = 100
const macrotask = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Runs CALLS failing calls in batches, aborting each batch while it sleeps between attempts. */
async function abortWhileSleeping(
  policy: ReturnType<typeof retry>,
  shared: AbortSignal,
  pending: () => number,
  total = CALLS,
): Promise<number> {
  let rejected = 0
  for (let b = 0; b < total / BATCH; b++) {
    const controllers = Array.from({ length: BATCH }, () => new AbortController())
    const calls = controllers.map((c) =>
      policy.execute(
        ({ signal }) => {
          // The attempt sees one signal combining the caller's and the shutdown signal.
          if (signal.aborted) throw signal.reason
          return Promise.reject(new Error('down'))
        },
        AbortSignal.any([c.signal, shared]),
      ),
    )
    await macrotask()
    expect(pending()).toBe(BATCH) // every call is asleep on a timer
    for (const c of controllers) c.abort(new Error('caller gave up'))
    const settled = await Promise.allSettled(calls)
    rejected += settled.filter((s) => s.status === 'rejected').length
    for (const c of controllers) expect(getEventListeners(c.signal, 'abort')).toHaveLength(0)
  }
  return rejected
}

describe('no listener or timer leaks across 10,000 aborted retries', () => {
  it('manual clock, with a deadline (timer + linked signal per call)', async () => {
    const clock = steppingClock()
    const policy = retry({ clock, jitter: 'none', baseDelayMs: 5_000, maxElapsedMs: 1e9 })
    const shutdown = new AbortController()
    setMaxListeners(BATCH * 2, shutdown.signal)
    let aborted = 0
    policy.events.on('giveUp', (e) => {
      if (e.reason === 'aborted') aborted++
    })
    // With a deadline each call also holds its deadline timer while asleep: 2 per call.
    const rejected = await abortWhileSleeping(policy, shutdown.signal, () => clock.pending() / 2)
    expect(rejected).toBe(CALLS)
    expect(aborted).toBe(CALLS)
    expect(clock.pending()).toBe(0)
    expect(clock.now()).toBe(0) // every sleep ended by abort, none by time
  }, 30_000) // a few seconds on a loaded 2-core box; nothing in it waits on real time

  it('system clock: real platform timers, every one cleared (1,000 calls)', async () => {
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
    const shutdown = new AbortController()
    setMaxListeners(BATCH * 2, shutdown.signal)
    const rejected = await abortWhileSleeping(policy, shutdown.signal, () => live.size, 1_000)
    expect(rejected).toBe(1_000)
    expect(live.size).toBe(0)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
  })
})
