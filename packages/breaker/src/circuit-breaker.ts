import type {
  BreakerEventMap,
  CircuitState,
  Clock,
  Emitter,
  Events,
  Policy,
  PolicyFn,
} from '@sturdy/core'
import { createEmitter, neverAborts } from '@sturdy/core'
import type { BreakerSettings, BreakerSnapshot, CircuitBreakerOptions } from './breaker-options.ts'
import { DEFAULT_OPEN_MS, resolveBreakerOptions } from './breaker-options.ts'
import type { Counts } from './counts.ts'
import { RollingCounts, snapshotCounts } from './counts.ts'
import { rejection } from './errors.ts'
import type { Outcome, Settled } from './outcome.ts'
import { callerAborted, defaultOutcome } from './outcome.ts'
import { SharedLink } from './shared-link.ts'
import type { SharedTransition } from './shared-state.ts'
import type { Transition } from './transition.ts'
import { afterSettle, ratioTrip } from './transition.ts'

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
  /**
   * Isolates this breaker at once and, through its `shared` store, every breaker of the
   * same name (replicas that start later join the isolation). Resolves with whether the
   * store took it (false without `shared`, or with the store down); never rejects.
   */
  isolate(options: SharedControl): Promise<boolean>
  /** Closes the circuit and clears counts and trip history. */
  reset(): void
  /**
   * Resets this breaker at once and, through its `shared` store, every breaker of the
   * same name, isolated ones included. Resolves like `isolate({ shared: true })`.
   */
  reset(options: SharedControl): Promise<boolean>
  /** A serializable snapshot; feed it back through `initialState`. */
  toJSON(): BreakerSnapshot
}

/** `isolate` / `reset` across replicas. */
export interface SharedControl {
  /** Apply it to every breaker of this name on the `shared` store, not only this one. */
  readonly shared: true
}

/**
 * Creates a circuit breaker with sony/gobreaker's semantics — closed / open / half-open,
 * generations, `maxRequests` fail-fast trials, `readyToTrip` on counts — plus
 * failure-ratio and slow-call-ratio trips over a rolling window, tri-state outcomes,
 * growing open durations, isolate/reset, snapshots and a two-step API.
 *
 * Time is only read from `clock`, when a call arrives or settles: there is no timer.
 *
 * @param options see `CircuitBreakerOptions` (every option is optional)
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
  return createBreaker(options, createEmitter<BreakerEventMap>())
}

/** Builds a breaker that emits on a shared emitter (keyed breakers). */
export function createBreaker(
  options: CircuitBreakerOptions,
  events: Emitter<BreakerEventMap>,
): CircuitBreaker {
  return new Breaker(resolveBreakerOptions(options), events, options.initialState)
}

/** Detaches a breaker from its shared store; called by keyed sets when they drop one. */
export const DETACH: unique symbol = Symbol('@sturdy/breaker detach')

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

  readonly #s: BreakerSettings
  readonly #clock: Clock
  readonly #counts: RollingCounts

  #state: CircuitState = 'closed'
  #generation = 0
  /** When the current generation started: bucket ages count from here. */
  #start = 0
  /** closed: when counts clear; open: when trials start; otherwise Infinity. */
  #expiry = Number.POSITIVE_INFINITY
  #trips = 0
  /** The shared-state connection, when `shared` is set. */
  readonly #link: SharedLink | undefined

  constructor(
    settings: BreakerSettings,
    events: Emitter<BreakerEventMap>,
    initialState: BreakerSnapshot | undefined,
  ) {
    this.#s = settings
    this.name = settings.name
    this.events = events
    this.#clock = settings.clock
    this.#counts = new RollingCounts(settings.windowSize)
    const now = this.#clock.now()
    this.#newGeneration(now)
    if (initialState !== undefined) this.#restore(initialState, now)
    this.#link =
      settings.shared === undefined
        ? undefined
        : new SharedLink(settings.shared, this.name, this.#clock, {
            applyRemote: (t) => this.#applyRemote(t),
            clusterCounts: () => this.#clusterCounts(),
          })
  }

  /** Stops listening to and syncing with the shared store (a keyed set dropped this breaker). */
  [DETACH](): void {
    this.#link?.detach()
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

  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal, attempt = 1): Promise<T> {
    // Not `async`: a refused call (the path that matters in an outage) returns a rejected
    // promise without an async frame around it, and its error's stack starts at the caller.
    try {
      // A caller that already gave up gets its reason, and the breaker learns nothing.
      if (signal?.aborted) return Promise.reject(signal.reason)
      // Reading the clock costs hundreds of instructions on Node 20; a breaker that keeps
      // no time admits without it (the permit's start is then NaN: unknown).
      const now = this.#keepsNoTime() ? Number.NaN : this.#clock.now()
      const permit = this.#before(now)
      if (permit === undefined) {
        this.#emitRejected(now)
        return rejectLater(rejection(this.name, this.#state, this.#retryAfter(now)))
      }
      return this.#run(fn, signal, attempt, permit)
    } catch (error) {
      // A throwing clock or predicate still reaches the caller as a rejection.
      return Promise.reject(error)
    }
  }

  async #run<T>(
    fn: PolicyFn<T>,
    signal: AbortSignal | undefined,
    attempt: number,
    permit: Permit,
  ): Promise<T> {
    let value: T
    try {
      value = await fn({ signal: signal ?? neverAborts(), attempt })
    } catch (error) {
      const settled: Settled = { ok: false, error, callerAborted: callerAborted(signal) }
      this.#after(permit, this.#classify(settled), undefined, error)
      throw error
    }
    // The default predicate calls every value a success: skip building its argument.
    const outcome =
      this.#s.outcome === defaultOutcome ? 'success' : this.#classify({ ok: true, value })
    this.#after(permit, outcome, undefined, undefined)
    return value
  }

  allow(): BreakerDone {
    const now = this.#clock.now()
    const done = this.#tryAllow(now)
    if (done === undefined) throw rejection(this.name, this.#state, this.#retryAfter(now))
    return done
  }

  tryAllow(): BreakerDone | undefined {
    return this.#tryAllow(this.#clock.now())
  }

  isolate(): void
  isolate(options: SharedControl): Promise<boolean>
  isolate(options?: SharedControl): Promise<boolean> | undefined {
    this.#move({ to: 'isolated', reason: 'isolate' }, this.#clock.now())
    return options?.shared === true ? this.#publishManual('isolated') : undefined
  }

  reset(): void
  reset(options: SharedControl): Promise<boolean>
  reset(options?: SharedControl): Promise<boolean> | undefined {
    this.#reset('reset', this.#clock.now())
    return options?.shared === true ? this.#publishManual('closed') : undefined
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

  #reset(reason: 'reset' | 'remote-reset', now: number): void {
    this.#trips = 0
    if (this.#state !== 'closed') this.#move({ to: 'closed', reason }, now, false)
    else {
      this.#newGeneration(now)
      this.#link?.clearCounts()
    }
  }

  #publishManual(state: 'isolated' | 'closed'): Promise<boolean> {
    const link = this.#link
    return link === undefined ? Promise.resolve(false) : link.publish(state, 0, true)
  }

  #tryAllow(now: number): BreakerDone | undefined {
    const permit = this.#before(now)
    if (permit === undefined) {
      this.#emitRejected(now)
      return undefined
    }
    return (outcome, durationMs) => this.#after(permit, outcome, durationMs, undefined)
  }

  /**
   * Closed, with no window, slow-call or ratio trip and no `success`/`failure` listener:
   * time cannot change what the breaker does with a call, and nobody reads a duration.
   */
  #keepsNoTime(): boolean {
    return (
      this.#state === 'closed' &&
      this.#s.timeless &&
      this.#expiry === Number.POSITIVE_INFINITY &&
      !this.events.has('success') &&
      !this.events.has('failure')
    )
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
    const s = this.#s
    // A success in a closed breaker with nothing time-based configured cannot move it,
    // and nobody listens for its duration: skip the clock read (tens of ns on Node 20,
    // the top frame of the composed policies' success path).
    const now = outcome === 'success' && this.#keepsNoTime() ? permit.start : this.#clock.now()
    // A permit admitted without a clock read has no start; only a listener that subscribed
    // while the call ran sees its duration, reported as 0.
    const duration = durationMs ?? (Number.isNaN(permit.start) ? 0 : now - permit.start)
    const slow = duration >= s.slowCallMs
    if (outcome === 'success' && this.events.has('success')) {
      this.events.emit('success', { name: this.name, durationMs: duration, slow })
    } else if (outcome === 'failure' && this.events.has('failure')) {
      this.events.emit('failure', { name: this.name, durationMs: duration, slow, error })
    }
    this.#current(now)
    if (permit.generation !== this.#generation) return
    if (outcome === 'excluded') {
      this.#counts.onExclusion(permit.age)
      return
    }
    const failed = outcome === 'failure'
    if (failed) this.#counts.onFailure(permit.age, slow)
    else this.#counts.onSuccess(permit.age, slow)
    const move = afterSettle(s, this.#state, failed, slow, this.#counts.total)
    if (move !== undefined) this.#move(move, now)
    else if (s.mergeCounts) this.#countShared(failed, slow, now)
  }

  /** `mergeCounts`: a closed-state result also counts towards the cluster's window. */
  #countShared(failed: boolean, slow: boolean, now: number): void {
    if (this.#state !== 'closed') return
    const link = this.#link as SharedLink
    link.count(failed, slow)
    const reason = ratioTrip(this.#s, link.cluster)
    if (reason !== undefined) this.#move({ to: 'open', reason }, now)
  }

  /** The store reported the cluster's counts: they may trip the circuit with no call here. */
  #clusterCounts(): void {
    const now = this.#clock.now()
    this.#current(now)
    if (this.#state !== 'closed') return
    const reason = ratioTrip(this.#s, (this.#link as SharedLink).cluster)
    if (reason !== undefined) this.#move({ to: 'open', reason }, now)
  }

  /** A predicate that throws must not leak a half-open slot: the call counts as failed. */
  #classify(settled: Settled): Outcome {
    try {
      return this.#s.outcome(settled)
    } catch {
      return 'failure'
    }
  }

  /** gobreaker's `currentState`: apply what the clock implies, lazily. */
  #current(now: number): void {
    if (this.#state === 'closed') {
      if (now >= this.#expiry) this.#newGeneration(now)
      else if (this.#s.rolling) {
        this.#counts.grow(Math.floor((now - this.#start) / this.#s.bucketMs))
      }
    } else if (this.#state === 'open' && now >= this.#expiry) {
      const link = this.#link
      if (link === undefined) {
        this.#move({ to: 'half-open', reason: 'timeout-elapsed' }, now)
        return
      }
      // Shared state: one replica runs the trial; the others stay open for its verdict.
      const lease = link.probe(this.#probeLeaseMs())
      if (lease === 'won') this.#move({ to: 'half-open', reason: 'timeout-elapsed' }, now)
      else if (lease === 'lost') {
        // No verdict within the lease (counted from the refusal, which may have come long
        // before this look) means the prober went silent: ask again then.
        this.#expiry = link.probeAnsweredAt + this.#probeLeaseMs()
        link.retryProbe()
      }
    }
  }

  /** How long a probe lease lasts: one open period, at least a second. */
  #probeLeaseMs(): number {
    return Math.max(1000, this.#openDuration())
  }

  /**
   * Another replica tripped the circuit, its trial closed it, or an operator isolated or
   * reset it everywhere (already known newer). Only an operator's reset ends an isolation.
   */
  #applyRemote(t: SharedTransition): void {
    const now = this.#clock.now()
    const s = this.#state
    if (t.state === 'isolated') {
      this.#move({ to: 'isolated', reason: 'remote-isolate' }, now, false)
      return
    }
    if (t.state === 'closed' && t.manual === true) {
      this.#reset('remote-reset', now)
      return
    }
    if (s === 'isolated') return
    if (t.state === 'closed') {
      if (s !== 'closed') this.#move({ to: 'closed', reason: 'remote-close' }, now, false)
      return
    }
    if (s !== 'open') this.#move({ to: 'open', reason: 'remote-trip' }, now, false)
    // Their open period, not ours: a replica that just tripped, or a trial that failed.
    this.#expiry = now + Math.max(0, t.openRemainingMs)
  }

  /** Excluded trials free their slot (gobreaker: requests − exclusions < maxRequests). */
  #halfOpenFull(): boolean {
    const c = this.#counts.total
    return c.requests - c.totalExclusions >= this.#s.maxRequests
  }

  #move({ to, reason }: Transition, now: number, publish = true): void {
    const from = this.#state
    if (from === to) return
    this.#state = to
    if (to === 'open') this.#trips++
    else if (to === 'closed') this.#trips = 0
    this.#newGeneration(now)
    const link = this.#link
    if (link !== undefined) {
      link.clearCounts()
      // Trips and trial verdicts are news for the other replicas; isolate and reset are
      // published by their callers when asked (`{ shared: true }`); the rest is local.
      if (publish && to === 'open') link.publish('open', this.#expiry - now)
      else if (publish && reason === 'probe-succeeded') link.publish('closed', 0)
    }
    if (this.events.has('stateChange')) {
      this.events.emit('stateChange', { name: this.name, from, to, reason })
    }
  }

  #newGeneration(now: number): void {
    this.#generation++
    this.#start = now
    this.#counts.clear()
    if (this.#state === 'closed') {
      const { intervalMs, rolling } = this.#s
      this.#expiry = intervalMs === 0 || rolling ? Number.POSITIVE_INFINITY : now + intervalMs
    } else if (this.#state === 'open') {
      this.#expiry = now + this.#openDuration()
    } else {
      this.#expiry = Number.POSITIVE_INFINITY
    }
  }

  #openDuration(): number {
    const openMs = this.#s.openMs
    if (typeof openMs === 'number') return openMs
    const ms = openMs(Math.max(1, this.#trips))
    return Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_OPEN_MS
  }

  /**
   * Whole ms until a call may be admitted, for a state that rejects: rounded up, so a
   * caller that waits this long is never early, and `Retry-After` bodies and headers show
   * an integer (the clock is fractional: `performance.now()`).
   */
  #retryAfter(now: number): number {
    if (this.#state === 'open') return Math.ceil(Math.max(0, this.#expiry - now))
    if (this.#state === 'half-open') {
      return Math.ceil(Math.min(HALF_OPEN_RETRY_MS, this.#openDuration()))
    }
    // Isolated has no end; a full open period is the honest hint.
    return Math.ceil(this.#openDuration())
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

const RESOLVED: Promise<void> = Promise.resolve()

/**
 * A promise that rejects with `error` one microtask from now, by when the caller's
 * `await` (or `.then`) has attached its handler. `Promise.reject(error)` would reject a
 * promise nobody handles yet, and Node's unhandled-rejection tracking then records it and
 * takes it back as soon as the handler arrives: two runtime callbacks per refused call, a
 * tenth of its cost. A caller that never handles it still gets the unhandled rejection.
 */
function rejectLater<T>(error: unknown): Promise<T> {
  return new Promise<T>((_resolve, reject) => {
    RESOLVED.then(() => reject(error))
  })
}

const STATES: readonly CircuitState[] = ['closed', 'open', 'half-open', 'isolated']
