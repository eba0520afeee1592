import type {
  AbortSubscriber,
  Clock,
  Emitter,
  Events,
  Policy,
  PolicyContext,
  PolicyFn,
  TimeoutEventMap,
} from '@sturdy/core'
import { AbortFanout, createEmitter, neverAborts, TimeoutError } from '@sturdy/core'
import { SETTLED } from './settled.ts'
import type { TimerWheel, WheelTarget, WheelTimer } from './timer-wheel.ts'
import { timerWheel } from './timer-wheel.ts'

/**
 * What happens at the deadline.
 * - `aggressive`: the call rejects with a `TimeoutError` at once; the signal is aborted
 *   and the function keeps running in the background until it notices (its outcome is
 *   dropped, never an unhandled rejection).
 * - `cooperative`: the signal is aborted and the call waits for the function to settle;
 *   a rejection after the deadline becomes a `TimeoutError` (original as `cause`).
 */
export type TimeoutMode = 'aggressive' | 'cooperative'

/** The budget of one call: fixed ms, or computed per call. `Infinity` means none. */
export type TimeoutBudget = number | ((ctx: PolicyContext) => number)

/** Options of `timeout()`. */
export interface TimeoutOptions {
  /**
   * `aggressive` rejects at the deadline without waiting for the function;
   * `cooperative` aborts the signal and waits for it (see `TimeoutMode`).
   * @default 'aggressive'
   */
  mode?: TimeoutMode
  /**
   * Abort the call's signal once the call settles, so nothing it started with that
   * signal (an unread response body, a losing `Promise.race` branch) outlives it.
   * @default true
   */
  abortOnReturn?: boolean
  /**
   * Name reported in events, for observers watching several policies.
   * @default 'timeout'
   */
  name?: string
  /**
   * Time source, for the private wheel. Ignored when `wheel` is given (its clock is used).
   * @default systemClock
   */
  clock?: Clock
  /**
   * Timer wheel the deadlines are scheduled on. Share one between policies and the
   * deadline middleware to keep one platform timer for all of them.
   * @default a private `timerWheel({ clock })`
   */
  wheel?: TimerWheel
}

/** A timeout policy: a core `Policy` that is also observable. */
export interface TimeoutPolicy extends Policy {
  readonly kind: 'timeout'
  readonly name: string
  /** `timeout` fires (scope `policy`) whenever a call's budget runs out. */
  readonly events: Events<TimeoutEventMap>
}

/**
 * A per-call timeout: each call gets a signal that aborts with a `TimeoutError` when
 * its budget runs out, linked to the caller's signal. Composes through `compose()`:
 * outside a retry it bounds all attempts, inside it bounds each attempt.
 *
 * Deadlines are scheduled on a shared timer wheel, not one `setTimeout` per call.
 *
 * @param ms the budget in ms, or a function of `{ signal, attempt }` returning it;
 *   `Infinity` for none, `0` fails at once without calling the function
 * @param options see `TimeoutOptions`
 * @returns a `TimeoutPolicy` (`execute`, `kind`, `name`, `events`)
 * @example
 * import { compose } from '@sturdy/core'
 * import { timeout } from '@sturdy/timeout'
 *
 * const total = timeout(2000)
 * const perAttempt = timeout(({ attempt }) => (attempt === 1 ? 300 : 600))
 * const policy = compose(total, perAttempt)
 * const res = await policy.execute(({ signal }) => fetch('http://127.0.0.1:9000/', { signal }))
 */
export function timeout(ms: TimeoutBudget, options: TimeoutOptions = {}): TimeoutPolicy {
  if (typeof ms === 'number') checkBudget(ms)
  const wheel = options.wheel ?? timerWheel({ clock: options.clock })
  const aggressive = (options.mode ?? 'aggressive') === 'aggressive'
  const abortOnReturn = options.abortOnReturn ?? true
  const name = options.name ?? 'timeout'
  const events = createEmitter<TimeoutEventMap>()
  const callers = new AbortFanout<AbortSubscriber>()
  const settings: Settings = { wheel, aggressive, abortOnReturn, name, events, callers }

  return {
    kind: 'timeout',
    name,
    events,
    execute<T>(fn: PolicyFn<T>, signal?: AbortSignal, attempt = 1): Promise<T> {
      if (signal?.aborted) return Promise.reject(signal.reason)
      let budget: number
      try {
        budget = typeof ms === 'number' ? ms : checkBudget(ms({ signal: signal ?? NEVER, attempt }))
      } catch (error) {
        return Promise.reject(error)
      }
      // A signal that can never abort (none, or core's `neverAborts()` handed down by an
      // outer policy) needs no subscription.
      const caller = signal === undefined || signal === neverAborts() ? undefined : signal
      return new Call<T>(settings, budget, caller).run(fn, attempt)
    },
  }
}

const NEVER: AbortSignal = new AbortController().signal

interface Settings {
  readonly wheel: TimerWheel
  readonly aggressive: boolean
  readonly abortOnReturn: boolean
  readonly name: string
  readonly events: Emitter<TimeoutEventMap>
  /** One listener per caller signal, however many calls share it. */
  readonly callers: AbortFanout<AbortSubscriber>
}

function checkBudget(ms: number): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new RangeError(`timeout budget must be a number >= 0 or Infinity, got ${String(ms)}`)
  }
  return ms
}

const NOT_ABORTED: unique symbol = Symbol('not aborted')

/**
 * One execution. A class rather than closures: the state every call needs lives in one
 * object. Its signal is created only when the function reads `ctx.signal`: a call that
 * never looks at it costs no AbortController and no abort (each abort costs tens of µs
 * on Node 20).
 */
class Call<T> implements AbortSubscriber, WheelTarget {
  readonly #s: Settings
  readonly #budget: number
  readonly #caller: AbortSignal | undefined
  #controller: AbortController | undefined
  #reason: unknown = NOT_ABORTED
  #timer: WheelTimer | undefined
  #timedOut: TimeoutError | undefined
  #settled = false
  #resolve!: (value: T) => void
  #reject!: (error: unknown) => void

  constructor(settings: Settings, budget: number, caller: AbortSignal | undefined) {
    this.#s = settings
    this.#budget = budget
    this.#caller = caller
  }

  run(fn: PolicyFn<T>, attempt: number): Promise<T> {
    const promise = new Promise<T>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    if (this.#budget <= 0) {
      // Nothing left to spend: like Go's WithTimeout(0), fail without starting the work.
      this.onDeadline()
      return promise
    }
    if (this.#caller !== undefined) this.#s.callers.add(this.#caller, this)
    if (this.#budget !== Number.POSITIVE_INFINITY) {
      const wheel = this.#s.wheel
      this.#timer = wheel.schedule(wheel.clock.now() + this.#budget, this)
    }
    let pending: PromiseLike<T> | T
    try {
      pending = fn(new CallContext(this, attempt))
    } catch (error) {
      this.#failed(error)
      return promise
    }
    // Both handlers are attached at once, so a function that rejects after an
    // aggressive timeout never surfaces as an unhandled rejection.
    Promise.resolve(pending).then(this.#succeeded, this.#failed)
    return promise
  }

  /** The call's signal, created on first use (already aborted if the call was). */
  signal(): AbortSignal {
    let controller = this.#controller
    if (controller === undefined) {
      controller = new AbortController()
      this.#controller = controller
      if (this.#reason !== NOT_ABORTED) controller.abort(this.#reason)
    }
    return controller.signal
  }

  #abort(reason: unknown): void {
    if (this.#reason !== NOT_ABORTED) return
    this.#reason = reason
    this.#controller?.abort(reason)
  }

  /** The budget ran out (called by the wheel). */
  onDeadline(): void {
    this.#timer = undefined
    const s = this.#s
    const error = new TimeoutError(`Timed out after ${this.#budget} ms`, this.#budget)
    this.#timedOut = error
    if (s.events.has('timeout')) {
      s.events.emit('timeout', { name: s.name, timeoutMs: this.#budget, scope: 'policy' })
    }
    // Abort first, so the signal carries the timeout (not abort-on-return's reason).
    this.#abort(error)
    if (this.#budget <= 0 || s.aggressive) this.#settle(false, error)
  }

  /** The caller's signal aborted (called through the fan-out). */
  onAbort(reason: unknown): void {
    // The caller's reason is the cause now; a deadline passing while a cooperative
    // function winds down must not relabel it as a timeout.
    this.#timer?.cancel()
    this.#timer = undefined
    this.#abort(reason)
    if (this.#s.aggressive) this.#settle(false, reason)
  }

  readonly #succeeded = (value: T): void => {
    this.#settle(true, value)
  }

  readonly #failed = (error: unknown): void => {
    const timedOut = this.#timedOut
    if (timedOut !== undefined && error !== timedOut) {
      // Cooperative: however the function reported the abort (AbortError, its own
      // error), the cause of failure is the timeout, and callers and retries should see it.
      this.#settle(false, new TimeoutError(timedOut.message, this.#budget, { cause: error }))
    } else {
      this.#settle(false, error)
    }
  }

  #settle(ok: boolean, outcome: unknown): void {
    if (this.#settled) return
    this.#settled = true
    this.#timer?.cancel()
    this.#timer = undefined
    if (this.#caller !== undefined) this.#s.callers.remove(this.#caller, this)
    if (ok) this.#resolve(outcome as T)
    else this.#reject(outcome)
    if (this.#s.abortOnReturn && this.#controller !== undefined) this.#abort(SETTLED)
  }
}

/** What the function receives; `signal` is materialized on first read. */
class CallContext implements PolicyContext {
  readonly #call: { signal(): AbortSignal }
  readonly attempt: number

  constructor(call: { signal(): AbortSignal }, attempt: number) {
    this.#call = call
    this.attempt = attempt
  }

  get signal(): AbortSignal {
    return this.#call.signal()
  }
}
