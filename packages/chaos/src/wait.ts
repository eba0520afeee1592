import type { Clock } from '@sturdy/core'
import { neverAborts } from '@sturdy/core'

/**
 * Waits `ms` on `clock`, or rejects with the signal's reason the moment it aborts. The
 * timer and the listener are both released either way.
 */
export function wait(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  if (!(ms > 0)) return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Never resolves; rejects with the signal's reason when it aborts. A signal that can
 * never abort gives a promise that never settles and holds nothing (no timer, no
 * listener), so it is collected with whatever awaits it.
 */
export function waitForAbort(signal: AbortSignal): Promise<never> {
  if (signal.aborted) return Promise.reject(signal.reason)
  if (signal === neverAborts()) return new Promise<never>(() => {})
  return new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

/**
 * `systemClock` with ref'd timers: an injected latency is work someone awaits, and an
 * unref'd timer would let a script's top-level `await` exit mid-wait. Every timer is
 * cleared or fired before the wait settles.
 */
export const waitingClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as never),
}
