import type { Clock } from '@sturdy/core'

/**
 * Waits `ms` on `clock`, or rejects with the signal's reason the moment it aborts.
 * Either way the timer and the abort listener are both released, so 10,000 aborted
 * retries leave no timer and no listener behind (p-retry #71 is this bug).
 *
 * @param ms how long to wait; `<= 0` resolves without a timer
 * @param signal aborts the wait
 * @param clock the time source
 * @returns a promise that settles when the wait ends
 */
export function sleep(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
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
