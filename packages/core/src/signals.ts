import type { Clock } from './clock.ts'
import { systemClock } from './clock.ts'
import { neverAborts } from './policy.ts'

/** A signal with a handle that releases whatever it listens to. */
export interface LinkedSignal {
  readonly signal: AbortSignal
  /** Detaches from every input signal. Idempotent. */
  dispose(): void
  [Symbol.dispose](): void
}

const NOOP_DISPOSE = (): void => {}

/**
 * Combines signals: the result aborts, with the first input's reason, as soon as any
 * input aborts. Unlike `AbortSignal.any`, the caller owns the listeners: `dispose()`
 * removes every listener it added, so combining a long-lived signal (server shutdown)
 * with per-request ones leaks nothing. Listeners are also removed once it aborts.
 *
 * Inputs that are `undefined` or `neverAborts()` are skipped; with a single input the
 * input itself is returned and nothing is attached. The never-aborting signal is shared
 * by every call made without a signal: listening to it could never fire, and many
 * concurrent calls would each add a listener to one signal (past 10, Node prints
 * MaxListenersExceededWarning).
 *
 * @example
 * using linked = linkSignals(request.signal, shutdown)
 * await fetch(url, { signal: linked.signal })
 */
export function linkSignals(...signals: ReadonlyArray<AbortSignal | undefined>): LinkedSignal {
  const never = neverAborts()
  const inputs = signals.filter((s): s is AbortSignal => s !== undefined && s !== never)
  const aborted = inputs.find((s) => s.aborted)
  if (aborted !== undefined) return fixed(AbortSignal.abort(aborted.reason))
  if (inputs.length === 1) return fixed(inputs[0] as AbortSignal)
  if (inputs.length === 0) return fixed(never)
  const controller = new AbortController()

  let live = true
  const dispose = (): void => {
    if (!live) return
    live = false
    for (const s of inputs) s.removeEventListener('abort', onAbort)
  }
  function onAbort(this: AbortSignal): void {
    dispose()
    controller.abort(this.reason)
  }
  for (const s of inputs) s.addEventListener('abort', onAbort)
  return { signal: controller.signal, dispose, [Symbol.dispose]: dispose }
}

function fixed(signal: AbortSignal): LinkedSignal {
  return { signal, dispose: NOOP_DISPOSE, [Symbol.dispose]: NOOP_DISPOSE }
}

/**
 * Calls `fn` once when `signal` aborts (at once if it already has); returns a disposer
 * that removes the listener. The building block for "abort the work when the caller
 * gives up" without leaking a listener per call.
 */
export function onAbort(signal: AbortSignal, fn: (reason: unknown) => void): () => void {
  if (signal.aborted) {
    fn(signal.reason)
    return NOOP_DISPOSE
  }
  const listener = (): void => fn(signal.reason)
  signal.addEventListener('abort', listener, { once: true })
  return () => signal.removeEventListener('abort', listener)
}

/** Throws the signal's reason when it has aborted (like `signal.throwIfAborted()`). */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason
}

/**
 * An absolute deadline `ms` from now on `clock`'s scale. `Infinity` means no deadline.
 *
 * @param ms budget in milliseconds
 * @param clock time source; @default systemClock
 */
export function deadlineIn(ms: number, clock: Clock = systemClock): number {
  return ms === Number.POSITIVE_INFINITY ? ms : clock.now() + Math.max(0, ms)
}

/**
 * Milliseconds left until `deadline` (never negative); `Infinity` for no deadline.
 *
 * @param deadline absolute deadline on `clock`'s scale, or undefined
 * @param clock time source; @default systemClock
 */
export function remaining(deadline: number | undefined, clock: Clock = systemClock): number {
  if (deadline === undefined || deadline === Number.POSITIVE_INFINITY) {
    return Number.POSITIVE_INFINITY
  }
  return Math.max(0, deadline - clock.now())
}

/**
 * The budget to hand an outgoing call: what is left of `deadline` minus a safety margin
 * for the response to travel back, never below zero.
 *
 * @param deadline absolute deadline, or undefined for none (returns `Infinity`)
 * @param marginMs time kept back for the trip home; @default 5
 * @param clock time source; @default systemClock
 */
export function outgoingBudget(
  deadline: number | undefined,
  marginMs = 5,
  clock: Clock = systemClock,
): number {
  const left = remaining(deadline, clock)
  return left === Number.POSITIVE_INFINITY ? left : Math.max(0, left - marginMs)
}
