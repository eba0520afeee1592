/**
 * The signal of one call, fed by the caller's signals through one shared listener per
 * signal. Many calls sharing one caller signal — a handler fanning out with
 * `c.var.signal`, a process-wide shutdown signal — would otherwise add a listener each
 * (the call's own, the retry's, every attempt's): past 10 Node prints
 * MaxListenersExceededWarning, and removing from a long list costs O(n). The same idea
 * as `@sturdy/timeout`'s private fan-out; both could move to core.
 */

/** A per-call signal; `dispose()` detaches it from the caller's signals. */
export interface CallSignal {
  readonly signal: AbortSignal
  dispose(): void
}

/** One listener per caller signal, shared by every call of one client. */
export class SignalFanout {
  readonly #fans = new WeakMap<AbortSignal, Fan>()

  /**
   * A signal that aborts when any of `signals` does (with its reason).
   *
   * @param signals the caller's signals (at least one)
   * @returns the call's signal and its disposer
   */
  link(signals: readonly AbortSignal[]): CallSignal {
    const controller = new AbortController()
    for (const s of signals) {
      if (s.aborted) {
        controller.abort(s.reason)
        return { signal: controller.signal, dispose: noop }
      }
    }
    for (const s of signals) this.#add(s, controller)
    let live = true
    return {
      signal: controller.signal,
      dispose: () => {
        if (!live) return
        live = false
        for (const s of signals) this.#remove(s, controller)
      },
    }
  }

  #add(signal: AbortSignal, sub: AbortController): void {
    let fan = this.#fans.get(signal)
    if (fan === undefined) {
      fan = new Fan(signal, this.#fans)
      this.#fans.set(signal, fan)
      signal.addEventListener('abort', fan.listener)
    }
    fan.subs.add(sub)
  }

  #remove(signal: AbortSignal, sub: AbortController): void {
    const fan = this.#fans.get(signal)
    if (fan === undefined || !fan.subs.delete(sub) || fan.subs.size > 0) return
    this.#fans.delete(signal)
    signal.removeEventListener('abort', fan.listener)
  }
}

class Fan {
  readonly subs = new Set<AbortController>()
  readonly listener: () => void

  constructor(signal: AbortSignal, fans: WeakMap<AbortSignal, Fan>) {
    this.listener = () => {
      signal.removeEventListener('abort', this.listener)
      fans.delete(signal)
      const subs = [...this.subs]
      this.subs.clear()
      for (const sub of subs) sub.abort(signal.reason)
    }
  }
}

function noop(): void {}
