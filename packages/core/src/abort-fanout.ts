/**
 * One `abort` listener per signal, however many calls wait on it: the shared piece
 * behind `@sturdy/timeout`'s `timeout()` and `group()`, `@sturdy/retry`'s `retry()` and
 * `hedge()`, and `@sturdy/chaos`'s waits.
 */
import type { Clock } from './clock.ts'
import { neverAborts } from './policy.ts'

/** Something that wants to hear when a signal aborts. */
export interface AbortSubscriber {
  onAbort(reason: unknown): void
}

/**
 * One `abort` listener per signal, fanned out to any number of subscribers. Many calls
 * sharing one caller signal (a handler fanning out with `c.var.signal`) would otherwise
 * add a listener each: past 10, Node prints MaxListenersExceededWarning, and removing
 * listeners from a long list costs O(n) each. Owned by one policy/middleware instance,
 * so nothing is global; the WeakMap lets idle signals be collected.
 *
 * @example
 * const callers = new AbortFanout<AbortSubscriber>()
 * const sub = { onAbort: (reason: unknown) => console.log('caller gave up', reason) }
 * callers.add(signal, sub) // the signal must not have aborted yet
 * callers.remove(signal, sub) // when the call settles first
 */
export class AbortFanout<S extends AbortSubscriber> {
  readonly #fans = new WeakMap<AbortSignal, Fan<S>>()

  /** Subscribes `sub` to `signal` (not yet aborted). A signal that never aborts is not watched. */
  add(signal: AbortSignal, sub: S): void {
    if (signal === neverAborts()) return
    let fan = this.#fans.get(signal)
    if (fan === undefined) {
      fan = new Fan(signal, this.#fans)
      this.#fans.set(signal, fan)
      signal.addEventListener('abort', fan.listener)
    }
    fan.subs.add(sub)
  }

  /** Unsubscribes; the signal's listener goes once its last subscriber does. */
  remove(signal: AbortSignal, sub: S): void {
    const fan = this.#fans.get(signal)
    if (fan === undefined || !fan.subs.delete(sub) || fan.subs.size > 0) return
    this.#fans.delete(signal)
    signal.removeEventListener('abort', fan.listener)
  }

  /**
   * Waits `ms` on `clock`, or rejects with the signal's reason the moment it aborts,
   * listening through this fan-out: calls asleep together on one shared signal (a
   * server's shutdown signal) add one listener to it between them. The timer and the
   * subscription are both released either way, so aborted waits leave nothing behind.
   *
   * @param ms how long to wait; `<= 0` resolves without a timer
   * @param signal aborts the wait
   * @param clock the time source
   * @returns a promise that settles when the wait ends
   * @example
   * await callers.sleep(250, signal, systemClock) // a backoff delay
   */
  sleep(
    this: AbortFanout<AbortSubscriber>,
    ms: number,
    signal: AbortSignal,
    clock: Clock,
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
        this.remove(signal, sleeper)
        resolve()
      }, ms)
      this.add(signal, sleeper)
    })
  }
}

class Fan<S extends AbortSubscriber> {
  readonly subs = new Set<S>()
  readonly listener: () => void

  constructor(signal: AbortSignal, fans: WeakMap<AbortSignal, Fan<S>>) {
    this.listener = () => {
      signal.removeEventListener('abort', this.listener)
      fans.delete(signal)
      const subs = [...this.subs]
      this.subs.clear()
      for (const sub of subs) sub.onAbort(signal.reason)
    }
  }
}
