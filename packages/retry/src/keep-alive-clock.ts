import type { Clock } from '@sturdy/core'
import { systemClock } from '@sturdy/core'

/**
 * `systemClock` with ref'd timers. Core's clock unrefs its timers so an idle deadline
 * never holds a process open; but a retry sleep is work someone awaits: with an unref'd
 * timer, `await policy.execute(...)` at the top level of a script exits the process
 * mid-retry (status 13, unsettled top-level await). The retry's timers never outlive the
 * call (each is cleared or fired before `execute` settles), so keeping them ref'd is safe.
 */
export const keepAliveClock: Clock = {
  now: systemClock.now,
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as never),
}
