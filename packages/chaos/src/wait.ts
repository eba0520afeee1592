import type { AbortSubscriber, Clock } from '@sturdy/core'
import { AbortFanout, neverAborts } from '@sturdy/core'

/**
 * The waits of one chaos policy or middleware. Calls waiting on the same signal share
 * one `abort` listener through a fan-out, so a drill of many concurrent calls under one
 * long-lived signal never trips Node's MaxListenersExceededWarning.
 */
export class Waits {
  readonly #callers = new AbortFanout<AbortSubscriber>()
  readonly #clock: Clock

  constructor(clock: Clock = waitingClock) {
    this.#clock = clock
  }

  /**
   * Waits `ms`, or rejects with the signal's reason the moment it aborts. The timer and
   * the subscription are both released either way.
   */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    return this.#callers.sleep(ms, signal, this.#clock)
  }

  /**
   * Never resolves; rejects with the signal's reason when it aborts. A signal that can
   * never abort gives a promise that never settles and holds nothing (no timer, no
   * listener), so it is collected with whatever awaits it.
   */
  untilAbort(signal: AbortSignal): Promise<never> {
    if (signal.aborted) return Promise.reject(signal.reason)
    if (signal === neverAborts()) return new Promise<never>(() => {})
    return new Promise<never>((_, reject) => {
      this.#callers.add(signal, { onAbort: reject })
    })
  }
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
