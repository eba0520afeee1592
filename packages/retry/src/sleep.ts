import type { AbortFanout, AbortSubscriber, Clock } from '@sturdy/core'

/**
 * Waits `ms` on `clock`, or rejects with the signal's reason the moment it aborts.
 * Either way the timer and the subscription are both released, so 10,000 aborted
 * retries leave no timer and no listener behind (p-retry #71 is this bug). The signal is
 * heard through the policy's fan-out: calls asleep together on one shared signal (a
 * server's shutdown signal) add one listener to it between them, not one each.
 *
 * @param ms how long to wait; `<= 0` resolves without a timer
 * @param signal aborts the wait
 * @param clock the time source
 * @param callers the policy's fan-out of abort listeners
 * @returns a promise that settles when the wait ends
 */
export function sleep(
  ms: number,
  signal: AbortSignal,
  clock: Clock,
  callers: AbortFanout<AbortSubscriber>,
): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  if (!(ms > 0)) return Promise.resolve()
  return new Promise<void>((resolve, reject) => {
    const sleeper: AbortSubscriber = {
      onAbort(reason) {
        clock.clearTimeout(timer)
        reject(reason)
      },
    }
    const timer = clock.setTimeout(() => {
      callers.remove(signal, sleeper)
      resolve()
    }, ms)
    callers.add(signal, sleeper)
  })
}
