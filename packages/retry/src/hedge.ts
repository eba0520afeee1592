import type {
  AbortSubscriber,
  Clock,
  Emitter,
  Events,
  HedgeEventMap,
  Policy,
  PolicyContext,
  PolicyFn,
} from '@sturdy/core'
import {
  AbortFanout,
  createEmitter,
  errorGuard,
  isCircuitRejection,
  neverAborts,
  SturdyError,
} from '@sturdy/core'
import type { RetryBudget } from './budget.ts'
import { validPushback } from './decide.ts'
import { isDoNotRetryError } from './errors.ts'
import { keepAliveClock } from './keep-alive-clock.ts'
import { BoundedKeys, LatencyWindow } from './latency-window.ts'
import type { Pushback } from './pushback.ts'
import type { RetryFailure } from './retry-options.ts'
import { discardResponse, pushbackOfFailure } from './retry-options.ts'
import { defaultRetryOn } from './retryable.ts'

/** Options of `hedge`. Delays are in ms on `clock`'s scale. */
export interface HedgeOptions {
  /** Names the policy in events, metrics and traces. @default 'hedge' */
  name?: string
  /** Attempts started in addition to the first, 0..10 (Polly's `MaxHedgedAttempts`). @default 1 */
  maxHedgedAttempts?: number
  /** Wait before each hedge; with `percentile`, the wait until enough latencies are known. @default 2000 */
  delayMs?: number
  /** Hedge after this percentile (0 < p < 100) of recent accepted latencies, per key (see `forKey`). @default undefined (fixed `delayMs`) */
  percentile?: number
  /** Latencies kept per key for `percentile`. @default 200 */
  latencyWindow?: number
  /** Latencies needed before `percentile` replaces `delayMs`. @default 20 */
  minSamples?: number
  /** Floor of the percentile delay, so sub-millisecond answers do not hedge every call. @default 0 */
  minDelayMs?: number
  /** Keys whose latencies are tracked; the oldest is dropped beyond it. @default 100 */
  maxKeys?: number
  /** Which thrown errors another attempt may still beat; any other error is final and thrown at once. @default defaultRetryOn */
  retryOn?: (error: unknown, attempt: number) => boolean
  /** Which results are not acceptable (e.g. `httpRetryableResult`): another attempt may still win. @default undefined (every result is acceptable) */
  retryOnResult?: (result: unknown, attempt: number) => boolean
  /** Answer when no attempt gave an acceptable outcome; receives the last failure. @default undefined (the last result is returned, or the last error thrown) */
  fallback?: (failure: RetryFailure) => unknown
  /** The shared retry budget: each hedge withdraws one retry; none is sent when it is spent. @default undefined */
  budget?: RetryBudget
  /** Reads server pushback from a failure: `stop` ends hedging, a delay postpones the next hedge; `false` ignores it. @default readPushback of the error or result */
  pushback?: false | ((failure: RetryFailure, nowEpochMs: number) => Pushback)
  /** Longest pushback honoured; a server asking for longer ends hedging. @default 30000 */
  maxPushbackMs?: number
  /** Disposes a result nobody will read (a loser's late answer, a replaced failure). @default cancels a fetch `Response` body */
  discardResult?: (result: unknown) => void
  /** Time source for the hedging timer and latencies. @default systemClock with ref'd timers */
  clock?: Clock
  /** Wall-clock ms since the epoch, for `Retry-After` HTTP-dates. @default Date.now */
  wallClock?: () => number
}

/** A hedging policy: a core `Policy` that names itself and emits `HedgeEventMap` events. */
export interface HedgePolicy extends Policy {
  readonly kind: 'hedge'
  readonly name: string
  readonly events: Events<HedgeEventMap>
  /**
   * The same policy (events, budget, options) with latencies tracked under `key` — an
   * origin, a route — so the percentile delay of one upstream is not another's. Without
   * `percentile` it returns this policy.
   */
  forKey(key: string): HedgePolicy
  /** The hedging delay a call made now would use, in ms. */
  delayMs(): number
}

/** Defaults of `hedge`, written once. */
export const HEDGE_DEFAULTS: {
  readonly name: 'hedge'
  readonly maxHedgedAttempts: 1
  readonly delayMs: 2000
  readonly latencyWindow: 200
  readonly minSamples: 20
  readonly minDelayMs: 0
  readonly maxKeys: 100
  readonly maxPushbackMs: 30000
} = {
  name: 'hedge',
  maxHedgedAttempts: 1,
  delayMs: 2000,
  latencyWindow: 200,
  minSamples: 20,
  minDelayMs: 0,
  maxKeys: 100,
  maxPushbackMs: 30000,
}

/** The most hedged attempts allowed, as in Polly. */
const MAX_HEDGED_ATTEMPTS = 10

/**
 * Creates a hedging policy (Polly's hedging, gRPC's hedging policy): when the call has not
 * answered after the hedging delay, another attempt starts in parallel; the first
 * acceptable answer wins and every other attempt is aborted through its own signal. An
 * attempt that fails (`retryOn` / `retryOnResult`) starts the next hedge at once.
 *
 * Hedges repeat the call, so use it for idempotent calls only — gate it with
 * `idempotentOnly(hedge(...))`, the same rule as retries. Each hedge withdraws from the
 * shared `budget`; with the budget spent no hedge is sent, so hedging cannot multiply the
 * load on a dependency in trouble.
 *
 * Each attempt gets its own signal (`{ signal, attempt }`), aborted with a
 * `HedgeLostError` when another attempt wins, or with the caller's reason when the caller
 * gives up.
 *
 * @param options see `HedgeOptions`
 * @returns a `HedgePolicy`
 * @see https://github.com/grpc/proposal/blob/master/A6-client-retries.md
 * @example
 * import { hedge, retryBudget, httpRetryableResult, idempotentOnly } from '@sturdy/retry'
 *
 * const budget = retryBudget({ ratio: 0.3 })
 * const hedged = hedge({ percentile: 90, maxHedgedAttempts: 2, budget, retryOnResult: httpRetryableResult })
 * const forRequest = idempotentOnly(hedged.forKey('http://127.0.0.1:9000'))
 * const res = await forRequest({ method: 'GET' }).execute(({ signal }) =>
 *   fetch('http://127.0.0.1:9000/users/1', { signal }),
 * )
 */
export function hedge(options: HedgeOptions = {}): HedgePolicy {
  const config = resolve(options)
  const emitter = createEmitter<HedgeEventMap>()
  const { percentile, latencyWindow, minSamples } = config
  if (percentile === undefined) {
    const fixed: HedgePolicy = build(config, emitter, undefined, () => fixed)
    return fixed
  }
  const window = (): LatencyWindow => new LatencyWindow(latencyWindow, percentile, minSamples)
  const forKey = (key: string): HedgePolicy => keys.get(key)
  const keys = new BoundedKeys(config.maxKeys, () => build(config, emitter, window(), forKey))
  return build(config, emitter, window(), forKey)
}

/**
 * The abort reason of an attempt that lost a hedge: another attempt answered first. It
 * never reaches the caller; attempt code can tell it from other aborts with
 * `isHedgeLostError(signal.reason)`.
 */
export class HedgeLostError extends SturdyError {
  constructor() {
    super('HEDGE_LOST', 'Another hedged attempt answered first', 500)
    this.name = 'HedgeLostError'
  }
}

/** True for a `HedgeLostError` from any copy of the package. */
export const isHedgeLostError: (error: unknown) => error is HedgeLostError =
  errorGuard<HedgeLostError>('HEDGE_LOST')

interface Config {
  readonly name: string
  readonly maxHedged: number
  readonly delayMs: number
  readonly percentile: number | undefined
  readonly latencyWindow: number
  readonly minSamples: number
  readonly minDelayMs: number
  readonly maxKeys: number
  readonly retryOn: (error: unknown, attempt: number) => boolean
  readonly retryOnResult: ((result: unknown, attempt: number) => boolean) | undefined
  readonly fallback: ((failure: RetryFailure) => unknown) | undefined
  readonly budget: RetryBudget | undefined
  readonly pushback: ((failure: RetryFailure, nowEpochMs: number) => Pushback) | undefined
  readonly maxPushbackMs: number
  readonly discardResult: (result: unknown) => void
  readonly clock: Clock
  readonly wallClock: () => number
  /** One listener per caller signal for all the policy's calls (Node warns past 10). */
  readonly callers: AbortFanout<AbortSubscriber>
}

function resolve(o: HedgeOptions): Config {
  const maxHedged = o.maxHedgedAttempts ?? HEDGE_DEFAULTS.maxHedgedAttempts
  if (!(Number.isInteger(maxHedged) && maxHedged >= 0 && maxHedged <= MAX_HEDGED_ATTEMPTS)) {
    throw new RangeError(
      `maxHedgedAttempts must be an integer in [0, ${MAX_HEDGED_ATTEMPTS}], got ${maxHedged}`,
    )
  }
  const percentile = o.percentile
  if (percentile !== undefined && !(percentile > 0 && percentile < 100)) {
    throw new RangeError(`percentile must be in (0, 100), got ${percentile}`)
  }
  const delayMs = o.delayMs ?? HEDGE_DEFAULTS.delayMs
  const minDelayMs = o.minDelayMs ?? HEDGE_DEFAULTS.minDelayMs
  const maxPushbackMs = o.maxPushbackMs ?? HEDGE_DEFAULTS.maxPushbackMs
  for (const [k, v] of [
    ['delayMs', delayMs],
    ['minDelayMs', minDelayMs],
    ['maxPushbackMs', maxPushbackMs],
  ] as const) {
    if (Number.isNaN(v) || v < 0) throw new RangeError(`${k} must be >= 0, got ${v}`)
  }
  const latencyWindow = o.latencyWindow ?? HEDGE_DEFAULTS.latencyWindow
  const minSamples = o.minSamples ?? HEDGE_DEFAULTS.minSamples
  const maxKeys = o.maxKeys ?? HEDGE_DEFAULTS.maxKeys
  for (const [k, v] of [
    ['latencyWindow', latencyWindow],
    ['minSamples', minSamples],
    ['maxKeys', maxKeys],
  ] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`${k} must be an integer >= 1`)
  }
  return {
    name: o.name ?? HEDGE_DEFAULTS.name,
    maxHedged,
    delayMs,
    percentile,
    latencyWindow,
    minSamples,
    minDelayMs,
    maxKeys,
    retryOn: o.retryOn ?? defaultRetryOn,
    retryOnResult: o.retryOnResult,
    fallback: o.fallback,
    budget: o.budget,
    pushback: o.pushback === false ? undefined : (o.pushback ?? pushbackOfFailure),
    maxPushbackMs,
    discardResult: o.discardResult ?? discardResponse,
    clock: o.clock ?? keepAliveClock,
    wallClock: o.wallClock ?? Date.now,
    callers: new AbortFanout<AbortSubscriber>(),
  }
}

function build(
  config: Config,
  events: Emitter<HedgeEventMap>,
  latencies: LatencyWindow | undefined,
  forKey: (key: string) => HedgePolicy,
): HedgePolicy {
  return {
    kind: 'hedge',
    name: config.name,
    events,
    forKey,
    delayMs: () => delayFor(config, latencies),
    execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
      // Like retry, the policy owns the attempt count: the incoming number is ignored.
      return run(config, events, latencies, fn, signal ?? neverAborts())
    },
  }
}

function delayFor(c: Config, latencies: LatencyWindow | undefined): number {
  const p = latencies?.value()
  return p === undefined ? c.delayMs : Math.max(c.minDelayMs, p)
}

const NOT_ABORTED: unique symbol = Symbol('not aborted')

/**
 * One attempt. Its signal is created only when the function reads `ctx.signal` (already
 * aborted if the attempt lost meanwhile): an AbortSignal costs ~17 µs on Node 20, and a
 * call answered by its first attempt should not pay for aborts that never happen.
 */
class Attempt {
  readonly n: number
  readonly startedAt: number
  #controller: AbortController | undefined
  #reason: unknown = NOT_ABORTED

  constructor(n: number, startedAt: number) {
    this.n = n
    this.startedAt = startedAt
  }

  signal(): AbortSignal {
    let controller = this.#controller
    if (controller === undefined) {
      controller = new AbortController()
      this.#controller = controller
      if (this.#reason !== NOT_ABORTED) controller.abort(this.#reason)
    }
    return controller.signal
  }

  abort(reason: unknown): void {
    if (this.#reason !== NOT_ABORTED) return
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}

/** What the function receives; `signal` is materialized on first read. */
class AttemptContext implements PolicyContext {
  readonly #attempt: Attempt
  readonly attempt: number

  constructor(attempt: Attempt) {
    this.#attempt = attempt
    this.attempt = attempt.n
  }

  get signal(): AbortSignal {
    return this.#attempt.signal()
  }
}

/**
 * One hedged call. Everything it owns — the hedging timer, the caller listener, the
 * attempts' controllers — is released in `finish()`, whichever way the call ends.
 */
function run<T>(
  c: Config,
  events: Emitter<HedgeEventMap>,
  latencies: LatencyWindow | undefined,
  fn: PolicyFn<T>,
  caller: AbortSignal,
): Promise<T> {
  if (caller.aborted) return Promise.reject(caller.reason)
  c.budget?.deposit()
  const { clock, name } = c
  const delayMs = delayFor(c, latencies)
  // Clock reads cost tens of ns; calls that neither track latency nor report a win skip them.
  const timed = latencies !== undefined || events.has('hedgeWon')
  const t0 = timed ? clock.now() : 0

  return new Promise<T>((resolvePromise, rejectPromise) => {
    const running: Attempt[] = []
    let started = 0
    let done = false
    let hedging = c.maxHedged > 0
    let timer: unknown
    let last: RetryFailure | undefined
    let release = (): void => {}

    // `reason` undefined: the call is decided, the attempts still running lost the hedge.
    const finish = (reason?: unknown): void => {
      done = true
      if (timer !== undefined) clock.clearTimeout(timer)
      timer = undefined
      release()
      if (running.length === 0) return
      // Built only when someone lost: an error captures a stack, which costs microseconds.
      const why = reason ?? new HedgeLostError()
      for (const a of running) a.abort(why)
      running.length = 0
    }
    const discard = (result: unknown): void => {
      try {
        c.discardResult(result)
      } catch {
        // Freeing an unread result is best effort.
      }
    }
    const schedule = (ms: number): void => {
      if (timer !== undefined) clock.clearTimeout(timer)
      timer = clock.setTimeout(() => {
        timer = undefined
        if (!done) launch('delay')
      }, ms)
    }
    const launch = (trigger: 'delay' | 'failure'): void => {
      const n = started + 1
      if (n > 1) {
        if (c.budget !== undefined && !c.budget.tryWithdraw()) {
          hedging = false
          if (events.has('budgetExhausted')) events.emit('budgetExhausted', { name, attempt: n })
          return
        }
        if (events.has('hedge')) events.emit('hedge', { name, attempt: n, trigger, delayMs })
      }
      started = n
      const attempt = new Attempt(n, timed ? clock.now() : 0)
      running.push(attempt)
      if (hedging && n <= c.maxHedged) schedule(delayMs)
      let pending: PromiseLike<T> | T
      try {
        pending = fn(new AttemptContext(attempt))
      } catch (error) {
        pending = Promise.reject(error)
      }
      Promise.resolve(pending).then(
        (value) => onValue(attempt, value),
        (error) => onError(attempt, error),
      )
    }
    const settled = (attempt: Attempt): void => {
      const i = running.indexOf(attempt)
      if (i >= 0) running.splice(i, 1)
    }
    const onValue = (attempt: Attempt, value: T): void => {
      settled(attempt)
      if (done) {
        discard(value)
        return
      }
      let unacceptable: boolean
      try {
        unacceptable = c.retryOnResult?.(value, attempt.n) === true
      } catch (error) {
        // A throwing predicate fails the attempt like an error, so retryOn still decides.
        judgeError(attempt, error)
        return
      }
      if (unacceptable) failed({ kind: 'result', attempt: attempt.n, result: value })
      else win(attempt, value)
    }
    const onError = (attempt: Attempt, error: unknown): void => {
      settled(attempt)
      if (!done) judgeError(attempt, error)
    }
    const judgeError = (attempt: Attempt, error: unknown): void => {
      let retryable = false
      try {
        retryable = !isDoNotRetryError(error) && c.retryOn(error, attempt.n)
      } catch {
        // A throwing predicate makes the error final.
      }
      // A final error (a 4xx, doNotRetry) commits the call at once, as gRPC's fatal codes do.
      if (retryable) failed({ kind: 'error', attempt: attempt.n, error })
      else lose(isDoNotRetryError(error) ? error.cause : error)
    }
    const win = (attempt: Attempt, value: T): void => {
      finish()
      if (last?.kind === 'result') discard(last.result)
      if (timed) {
        const now = clock.now()
        latencies?.record(now - attempt.startedAt)
        if (attempt.n > 1 && events.has('hedgeWon')) {
          events.emit('hedgeWon', {
            name,
            attempt: attempt.n,
            attempts: started,
            durationMs: now - t0,
          })
        }
      }
      resolvePromise(value)
    }
    const lose = (error: unknown): void => {
      finish()
      if (last?.kind === 'result') discard(last.result)
      rejectPromise(error)
    }
    const failed = (failure: RetryFailure): void => {
      if (last?.kind === 'result') discard(last.result)
      last = failure
      if (hedging) {
        // An open circuit rejects every hedge through it alike: stop, as retry() does.
        const push =
          failure.kind === 'error' && isCircuitRejection(failure.error)
            ? 'stop'
            : validPushback(c.pushback?.(failure, c.wallClock()))
        if (push === 'stop' || (push !== undefined && push > c.maxPushbackMs)) {
          hedging = false
        } else if (started <= c.maxHedged) {
          // The failed attempt says nothing about the others still running; gRPC and Polly
          // both send the next hedge at once rather than wait out the delay.
          if (push !== undefined && push > 0) schedule(push)
          else {
            if (timer !== undefined) clock.clearTimeout(timer)
            timer = undefined
            launch('failure')
          }
        }
      }
      if (!hedging && timer !== undefined) {
        clock.clearTimeout(timer)
        timer = undefined
      }
      if (running.length === 0 && timer === undefined) giveUp(failure)
    }
    const giveUp = (failure: RetryFailure): void => {
      finish()
      const fallback = c.fallback
      if (fallback !== undefined) {
        new Promise((r) => r(fallback(failure))).then((v) => resolvePromise(v as T), rejectPromise)
      } else if (failure.kind === 'result') {
        resolvePromise(failure.result as T)
      } else {
        rejectPromise(failure.error)
      }
    }

    if (caller !== neverAborts()) {
      const subscriber: AbortSubscriber = {
        onAbort(reason) {
          if (done) return
          finish(reason)
          rejectPromise(reason)
        },
      }
      c.callers.add(caller, subscriber)
      release = () => c.callers.remove(caller, subscriber)
    }
    launch('delay')
  })
}
