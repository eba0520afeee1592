/**
 * One `abort` listener per signal, however many calls wait on it: the shared piece
 * behind `@sturdy/timeout`'s `timeout()` and `group()` and `@sturdy/retry`'s `hedge()`.
 */

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

  /** Subscribes `sub` to `signal` (not yet aborted). */
  add(signal: AbortSignal, sub: S): void {
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
