import type {
  BreakerEventMap,
  CircuitState,
  Clock,
  Emitter,
  Events,
  Policy,
  PolicyFn,
} from '@sturdy/core'
import { createEmitter, neverAborts, systemClock } from '@sturdy/core'
import type { Counts } from './counts.ts'
import { RollingCounts, snapshotCounts } from './counts.ts'
import { BrokenCircuitError } from './errors.ts'
import type { Outcome, Settled } from './outcome.ts'
import { callerAborted, defaultOutcome, defaultReadyToTrip } from './outcome.ts'

/** Options of `circuitBreaker`. Names in brackets are sony/gobreaker's `Settings`. */
export interface CircuitBreakerOptions {
  /** Name carried by events and errors [`Name`]. @default 'breaker' */
  name?: string
  /**
   * Half-open trial calls: at most this many run at once, the rest are rejected at once;
   * this many consecutive successes close the circuit [`MaxRequests`]. @default 1
   */
  maxRequests?: number
  /**
   * Closed-state window in ms: counts are cleared every `intervalMs` (fixed window), or
   * roll bucket by bucket when `bucketMs` is set; `0` never clears [`Interval`].
   * @default 0, or 10000 when `failureRatio` or `slowCallRatio` is set
   */
  intervalMs?: number
  /**
   * Bucket size of a rolling window; `intervalMs` is rounded up to a multiple of it;
   * `0` means a fixed window [`BucketPeriod`].
   * @default 0, or intervalMs / 10 when `failureRatio` or `slowCallRatio` is set
   */
  bucketMs?: number
  /**
   * How long the circuit stays open before a trial is allowed [`Timeout`]. A function
   * gets the trip number since the circuit last closed (1, 2, ...) — see `openBackoff`.
   * @default 60000
   */
  openMs?: number | ((trip: number) => number)
  /**
   * Trip condition, called with the counts after each failure in the closed state
   * [`ReadyToTrip`]. @default consecutiveFailures > 5, unless a ratio trip is set
   */
  readyToTrip?: (counts: Counts) => boolean
  /**
   * Trip when failures / (successes + failures) in the window reach this ratio, once
   * `minimumThroughput` calls have finished. In (0, 1]. @default undefined (off)
   */
  failureRatio?: number
  /** A call that takes at least this long counts as slow. @default Infinity */
  slowCallMs?: number
  /**
   * Trip when slow calls / (successes + failures) in the window reach this ratio, once
   * `minimumThroughput` calls have finished; a slow half-open trial reopens the circuit.
   * Needs `slowCallMs`. In (0, 1]. @default undefined (off)
   */
  slowCallRatio?: number
  /** Finished calls in the window before a ratio trip may fire. @default 10 */
  minimumThroughput?: number
  /**
   * Classifies a settled call as `success`, `failure` or `excluded` [`IsSuccessful` +
   * `IsExcluded`]. @default defaultOutcome (errors fail, except caller aborts: excluded)
   */
  outcome?: (settled: Settled) => Outcome
  /** State to start from, as produced by `toJSON()`. @default closed, empty counts */
  initialState?: BreakerSnapshot
  /** Time source. @default systemClock */
  clock?: Clock
}

/** A serializable breaker state (`toJSON()` / `initialState`). */
export interface BreakerSnapshot {
  readonly state: CircuitState
  /** Ms of the open period left when the snapshot was taken; 0 unless open. */
  readonly openRemainingMs: number
  /** Consecutive trips since the circuit last closed (drives `openMs` backoff). */
  readonly trips: number
  readonly counts: Counts
}

/**
 * Second step of the two-step API: reports how the admitted call went. Calling it more
 * than once is ignored.
 *
 * @param outcome how the call counts
 * @param durationMs the call's duration; @default measured since `allow()`
 */
export type BreakerDone = (outcome: Outcome, durationMs?: number) => void

/** A circuit breaker: a core `Policy` plus gobreaker's state, counts and two-step API. */
export interface CircuitBreaker extends Policy {
  readonly kind: 'breaker'
  readonly name: string
  readonly events: Events<BreakerEventMap>
  /** The current state; reading it may move open → half-open (clock-based, lazily). */
  readonly state: CircuitState
  /** A copy of the current counts. */
  readonly counts: Counts
  /** Ms until a call may be admitted: 0 when closed or half-open with a free slot. */
  retryAfterMs(): number
  /** Admits a call or throws `BrokenCircuitError`; report the outcome with `done`. */
  allow(): BreakerDone
  /** Like `allow()`, but returns undefined instead of throwing when rejected. */
  tryAllow(): BreakerDone | undefined
  /** Holds the circuit open (state `isolated`) until `reset()`. */
  isolate(): void
  /** Closes the circuit and clears counts and trip history. */
  reset(): void
  /** A serializable snapshot; feed it back through `initialState`. */
  toJSON(): BreakerSnapshot
}

/**
 * Creates a circuit breaker with sony/gobreaker's semantics — closed / open / half-open,
 * generations, `maxRequests` fail-fast trials, `readyToTrip` on counts — plus
 * failure-ratio and slow-call-ratio trips over a rolling window, tri-state outcomes,
 * growing open durations, isolate/reset, snapshots and a two-step API.
 *
 * Time is only read from `clock`, when a call arrives or settles: there is no timer.
 *
 * @param options see `CircuitBreakerOptions`
 * @param options.name event/error name; @default 'breaker'
 * @param options.maxRequests half-open trials; @default 1
 * @param options.intervalMs closed-state window; @default 0 (10000 with a ratio trip)
 * @param options.bucketMs rolling bucket; @default 0 (intervalMs / 10 with a ratio trip)
 * @param options.openMs open duration or backoff function; @default 60000
 * @param options.readyToTrip trip predicate; @default consecutiveFailures > 5 (no ratio trip)
 * @param options.failureRatio failure-ratio trip; @default off
 * @param options.slowCallMs slow-call threshold; @default Infinity
 * @param options.slowCallRatio slow-call-ratio trip; @default off
 * @param options.minimumThroughput calls before a ratio trip; @default 10
 * @param options.outcome outcome predicate; @default defaultOutcome
 * @param options.initialState snapshot to start from; @default closed
 * @param options.clock time source; @default systemClock
 * @returns the breaker (a `Policy`)
 * @example
 * import { circuitBreaker, isBrokenCircuitError } from '@sturdy/breaker'
 *
 * const breaker = circuitBreaker({ name: 'payments', failureRatio: 0.5, openMs: 10_000 })
 * try {
 *   const res = await breaker.execute(({ signal }) => fetch('http://127.0.0.1:9000/pay', { signal }))
 * } catch (error) {
 *   if (isBrokenCircuitError(error)) console.log(`payments down, retry in ${error.retryAfterMs} ms`)
 * }
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  return new Breaker(options, createEmitter<BreakerEventMap>())
}

/** Builds a breaker that emits on a shared emitter (keyed breakers). */
export function createBreaker(
  options: CircuitBreakerOptions,
  events: Emitter<BreakerEventMap>,
): CircuitBreaker {
  return new Breaker(options, events)
}

const DEFAULT_OPEN_MS = 60_000
/** Retry-After hint when half-open is at capacity: the trials decide soon. */
const HALF_OPEN_RETRY_MS = 1000

interface Permit {
  readonly generation: number
  readonly age: number
  readonly start: number
  settled: boolean
}

class Breaker implements CircuitBreaker {
  readonly kind = 'breaker' as const
  readonly name: string
  readonly events: Emitter<BreakerEventMap>

  readonly #clock: Clock
  readonly #maxRequests: number
  readonly #intervalMs: number
  readonly #bucketMs: number
  readonly #rolling: boolean
  readonly #openMs: number | ((trip: number) => number)
  readonly #readyToTrip: ((counts: Counts) => boolean) | undefined
  readonly #readyReason: string
  readonly #failureRatio: number | undefined
  readonly #slowCallMs: number
  /** No rolling window, slow-call or ratio trip: a closed-state success needs no time. */
  readonly #timeless: boolean
  readonly #slowCallRatio: number | undefined
  readonly #minimumThroughput: number
  readonly #outcome: (settled: Settled) => Outcome
  readonly #counts: RollingCounts

  #state: CircuitState = 'closed'
  #generation = 0
  /** When the current generation started: bucket ages count from here. */
  #start = 0
  /** closed: when counts clear; open: when trials start; otherwise Infinity. */
  #expiry = Number.POSITIVE_INFINITY
  #trips = 0

  constructor(o: CircuitBreakerOptions, events: Emitter<BreakerEventMap>) {
    this.name = o.name ?? 'breaker'
    this.events = events
    this.#clock = o.clock ?? systemClock
    this.#maxRequests =
      o.maxRequests !== undefined && o.maxRequests >= 1 ? Math.floor(o.maxRequests) : 1
    const ratioTrip = o.failureRatio !== undefined || o.slowCallRatio !== undefined
    checkRatio('failureRatio', o.failureRatio)
    checkRatio('slowCallRatio', o.slowCallRatio)
    if (o.slowCallRatio !== undefined && o.slowCallMs === undefined) {
      throw new TypeError('slowCallRatio needs slowCallMs')
    }
    // gobreaker's normalisation: a non-positive Interval never clears, a non-positive
    // Timeout falls back to the default.
    const interval = o.intervalMs ?? (ratioTrip ? 10_000 : 0)
    const bucket = o.bucketMs ?? (ratioTrip && interval > 0 ? interval / 10 : 0)
    if (!(interval > 0)) {
      this.#intervalMs = 0
      this.#bucketMs = 0
    } else if (!(bucket > 0) || bucket >= interval) {
      this.#intervalMs = interval
      this.#bucketMs = interval
    } else {
      this.#bucketMs = bucket
      this.#intervalMs = Math.ceil(interval / bucket) * bucket
    }
    const size = this.#intervalMs === 0 ? 1 : Math.round(this.#intervalMs / this.#bucketMs)
    this.#rolling = size >= 2
    this.#counts = new RollingCounts(size)
    this.#openMs =
      typeof o.openMs === 'function'
        ? o.openMs
        : o.openMs !== undefined && o.openMs > 0
          ? o.openMs
          : DEFAULT_OPEN_MS
    this.#readyToTrip = o.readyToTrip ?? (ratioTrip ? undefined : defaultReadyToTrip)
    this.#readyReason =
      o.readyToTrip === undefined || o.readyToTrip === defaultReadyToTrip
        ? 'consecutive-failures'
        : 'ready-to-trip'
    this.#failureRatio = o.failureRatio
    this.#slowCallMs = o.slowCallMs ?? Number.POSITIVE_INFINITY
    this.#slowCallRatio = o.slowCallRatio
    this.#timeless =
      !this.#rolling &&
      this.#slowCallMs === Number.POSITIVE_INFINITY &&
      this.#failureRatio === undefined &&
      this.#slowCallRatio === undefined
    this.#minimumThroughput = Math.max(1, o.minimumThroughput ?? 10)
    this.#outcome = o.outcome ?? defaultOutcome

    const now = this.#clock.now()
    this.#newGeneration(now)
    if (o.initialState !== undefined) this.#restore(o.initialState, now)
  }

  get state(): CircuitState {
    this.#current(this.#clock.now())
    return this.#state
  }

  get counts(): Counts {
    this.#current(this.#clock.now())
    return snapshotCounts(this.#counts.total)
  }

  retryAfterMs(): number {
    const now = this.#clock.now()
    this.#current(now)
    if (this.#state === 'closed') return 0
    if (this.#state === 'half-open') return this.#halfOpenFull() ? this.#retryAfter(now) : 0
    return this.#retryAfter(now)
  }

  async execute<T>(fn: PolicyFn<T>, signal?: AbortSignal, attempt = 1): Promise<T> {
    // A caller that already gave up gets its reason, and the breaker learns nothing.
    if (signal?.aborted) throw signal.reason
    const now = this.#clock.now()
    const permit = this.#before(now)
    if (permit === undefined) {
      this.#emitRejected(now)
      throw this.#rejection(now)
    }
    let value: T
    try {
      value = await fn({ signal: signal ?? neverAborts(), attempt })
    } catch (error) {
      const settled: Settled = { ok: false, error, callerAborted: callerAborted(signal) }
      this.#after(permit, this.#classify(settled), undefined, error)
      throw error
    }
    this.#after(permit, this.#classify({ ok: true, value }), undefined, undefined)
    return value
  }

  allow(): BreakerDone {
    const now = this.#clock.now()
    const done = this.#tryAllow(now)
    if (done === undefined) throw this.#rejection(now)
    return done
  }

  tryAllow(): BreakerDone | undefined {
    return this.#tryAllow(this.#clock.now())
  }

  isolate(): void {
    this.#setState('isolated', this.#clock.now(), 'isolate')
  }

  reset(): void {
    const now = this.#clock.now()
    this.#trips = 0
    if (this.#state === 'closed') this.#newGeneration(now)
    else this.#setState('closed', now, 'reset')
  }

  toJSON(): BreakerSnapshot {
    const now = this.#clock.now()
    this.#current(now)
    return {
      state: this.#state,
      openRemainingMs: this.#state === 'open' ? Math.max(0, this.#expiry - now) : 0,
      trips: this.#trips,
      counts: snapshotCounts(this.#counts.total),
    }
  }

  #tryAllow(now: number): BreakerDone | undefined {
    const permit = this.#before(now)
    if (permit === undefined) {
      this.#emitRejected(now)
      return undefined
    }
    return (outcome, durationMs) => this.#after(permit, outcome, durationMs, undefined)
  }

  /** gobreaker's `beforeRequest`: admit (and count) or refuse. */
  #before(now: number): Permit | undefined {
    this.#current(now)
    const s = this.#state
    if (s === 'open' || s === 'isolated') return undefined
    if (s === 'half-open' && this.#halfOpenFull()) return undefined
    this.#counts.onRequest()
    return { generation: this.#generation, age: this.#counts.age, start: now, settled: false }
  }

  /** gobreaker's `afterRequest`: results from an older generation are dropped. */
  #after(permit: Permit, outcome: Outcome, durationMs: number | undefined, error: unknown): void {
    if (permit.settled) return
    permit.settled = true
    // A success in a closed breaker with nothing time-based configured cannot move it,
    // and nobody listens for its duration: skip the clock read (tens of ns on Node 20,
    // the top frame of the composed policies' success path).
    const now =
      outcome === 'success' &&
      this.#state === 'closed' &&
      this.#timeless &&
      this.#expiry === Number.POSITIVE_INFINITY &&
      !this.events.has('success')
        ? permit.start
        : this.#clock.now()
    const duration = durationMs ?? now - permit.start
    const slow = duration >= this.#slowCallMs
    if (outcome === 'success' && this.events.has('success')) {
      this.events.emit('success', { name: this.name, durationMs: duration, slow })
    } else if (outcome === 'failure' && this.events.has('failure')) {
      this.events.emit('failure', { name: this.name, durationMs: duration, slow, error })
    }
    this.#current(now)
    if (permit.generation !== this.#generation) return
    const s = this.#state
    if (outcome === 'excluded') {
      this.#counts.onExclusion(permit.age)
    } else if (outcome === 'success') {
      if (s === 'half-open' && slow && this.#slowCallRatio !== undefined) {
        this.#setState('open', now, 'probe-slow')
        return
      }
      this.#counts.onSuccess(permit.age, slow)
      if (s === 'half-open') {
        if (this.#counts.total.consecutiveSuccesses >= this.#maxRequests) {
          this.#setState('closed', now, 'probe-succeeded')
        }
      } else if (this.#failureRatio !== undefined || this.#slowCallRatio !== undefined) {
        // A success can still trip a ratio: it may be the call that reaches the
        // minimum throughput, or a slow one.
        const reason = this.#tripReason(false)
        if (reason !== undefined) this.#setState('open', now, reason)
      }
    } else if (s === 'half-open') {
      this.#setState('open', now, 'probe-failed')
    } else {
      this.#counts.onFailure(permit.age, slow)
      const reason = this.#tripReason(true)
      if (reason !== undefined) this.#setState('open', now, reason)
    }
  }

  /** A predicate that throws must not leak a half-open slot: the call counts as failed. */
  #classify(settled: Settled): Outcome {
    try {
      return this.#outcome(settled)
    } catch {
      return 'failure'
    }
  }

  #tripReason(afterFailure: boolean): string | undefined {
    const c = this.#counts.total
    if (afterFailure && this.#readyToTrip?.(snapshotCounts(c))) return this.#readyReason
    const finished = c.totalSuccesses + c.totalFailures
    if (finished < this.#minimumThroughput) return undefined
    if (this.#failureRatio !== undefined && c.totalFailures / finished >= this.#failureRatio) {
      return 'failure-ratio'
    }
    if (this.#slowCallRatio !== undefined && c.slowCalls / finished >= this.#slowCallRatio) {
      return 'slow-call-ratio'
    }
    return undefined
  }

  /** gobreaker's `currentState`: apply what the clock implies, lazily. */
  #current(now: number): void {
    if (this.#state === 'closed') {
      if (now >= this.#expiry) this.#newGeneration(now)
      else if (this.#rolling) this.#counts.grow(Math.floor((now - this.#start) / this.#bucketMs))
    } else if (this.#state === 'open' && now >= this.#expiry) {
      this.#setState('half-open', now, 'timeout-elapsed')
    }
  }

  /** Excluded trials free their slot (gobreaker: requests − exclusions < maxRequests). */
  #halfOpenFull(): boolean {
    const c = this.#counts.total
    return c.requests - c.totalExclusions >= this.#maxRequests
  }

  #setState(to: CircuitState, now: number, reason: string): void {
    const from = this.#state
    if (from === to) return
    this.#state = to
    if (to === 'open') this.#trips++
    else if (to === 'closed') this.#trips = 0
    this.#newGeneration(now)
    if (this.events.has('stateChange')) {
      this.events.emit('stateChange', { name: this.name, from, to, reason })
    }
  }

  #newGeneration(now: number): void {
    this.#generation++
    this.#start = now
    this.#counts.clear()
    if (this.#state === 'closed') {
      this.#expiry =
        this.#intervalMs === 0 || this.#rolling ? Number.POSITIVE_INFINITY : now + this.#intervalMs
    } else if (this.#state === 'open') {
      this.#expiry = now + this.#openDuration()
    } else {
      this.#expiry = Number.POSITIVE_INFINITY
    }
  }

  #openDuration(): number {
    if (typeof this.#openMs === 'number') return this.#openMs
    const ms = this.#openMs(Math.max(1, this.#trips))
    return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_OPEN_MS
  }

  /** Ms until a call may be admitted, for a state that rejects. */
  #retryAfter(now: number): number {
    if (this.#state === 'open') return Math.max(0, this.#expiry - now)
    if (this.#state === 'half-open') return Math.min(HALF_OPEN_RETRY_MS, this.#openDuration())
    // Isolated has no end; a full open period is the honest hint.
    return this.#openDuration()
  }

  #rejection(now: number): BrokenCircuitError {
    return new BrokenCircuitError(this.name, this.#state, this.#retryAfter(now))
  }

  #emitRejected(now: number): void {
    if (!this.events.has('rejected')) return
    this.events.emit('rejected', {
      name: this.name,
      state: this.#state,
      retryAfterMs: this.#retryAfter(now),
    })
  }

  #restore(s: BreakerSnapshot, now: number): void {
    const state: CircuitState = STATES.includes(s.state) ? s.state : 'closed'
    this.#trips = Number.isFinite(s.trips) && s.trips > 0 ? Math.floor(s.trips) : 0
    this.#state = state
    this.#newGeneration(now)
    if (state === 'open') {
      const left = Number.isFinite(s.openRemainingMs) ? Math.max(0, s.openRemainingMs) : 0
      this.#expiry = now + left
    } else if (state === 'closed' && typeof s.counts === 'object' && s.counts !== null) {
      this.#counts.restore(s.counts)
    }
  }
}

const STATES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated']

function checkRatio(name: string, value: number | undefined): void {
  if (value !== undefined && !(value > 0 && value <= 1)) {
    throw new RangeError(`${name} must be in (0, 1], got ${value}`)
  }
}
