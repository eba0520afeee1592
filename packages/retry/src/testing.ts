/**
 * Test-only helpers (not exported from the package): a manual clock that knows when its
 * next timer is due, and `drive()`, which runs a promise to completion by jumping the
 * clock from timer to timer. No real sleeping, whatever the delays.
 */
import type { Clock } from '@sturdy/core'
import type { ManualClock } from '@sturdy/core/testing'
import { manualClock } from '@sturdy/core/testing'

export interface SteppingClock extends Clock {
  readonly manual: ManualClock
  pending(): number
  /** When the earliest pending timer fires, or undefined. */
  nextDue(): number | undefined
}

export function steppingClock(start = 0): SteppingClock {
  const manual = manualClock(start)
  const due = new Map<unknown, number>()
  return {
    manual,
    now: () => manual.now(),
    setTimeout(fn, ms) {
      const handle = manual.setTimeout(() => {
        due.delete(handle)
        fn()
      }, ms)
      due.set(handle, manual.now() + Math.max(0, ms))
      return handle
    },
    clearTimeout(handle) {
      due.delete(handle)
      manual.clearTimeout(handle)
    },
    pending: () => manual.pending(),
    nextDue() {
      let min: number | undefined
      for (const at of due.values()) if (min === undefined || at < min) min = at
      return min
    },
  }
}

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Settles `promise`, advancing `clock` to each next timer whenever everything else is
 * idle. `onIdle` runs before each jump (e.g. to abort at a chosen moment).
 */
export async function drive<T>(
  clock: SteppingClock,
  promise: Promise<T>,
  maxSteps = 10_000,
): Promise<T> {
  let done = false
  promise.then(
    () => {
      done = true
    },
    () => {
      done = true
    },
  )
  for (let step = 0; step < maxSteps; step++) {
    await macrotask()
    if (done) return promise
    const at = clock.nextDue()
    if (at !== undefined) clock.manual.advance(Math.max(0, at - clock.now()))
  }
  throw new Error('drive(): promise did not settle')
}

/** Waits `ms` on `clock`, rejecting with the signal's reason on abort (a well-behaved attempt). */
export function work(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clock.clearTimeout(t)
      reject(signal.reason)
    }
    const t = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
