import type { CircuitState, Clock } from '@sturdy/core'
import { systemClock, systemRandom } from '@sturdy/core'
import type { Counts } from './counts.ts'
import type { Outcome, Settled } from './outcome.ts'
import { defaultOutcome, defaultReadyToTrip } from './outcome.ts'
import type { LinkSettings } from './shared-link.ts'
import type { BreakerStateStore, SharedBreakerOptions } from './shared-state.ts'

/** Options of `circuitBreaker`. Names in brackets are sony/gobreaker's `Settings`. */
export interface CircuitBreakerOptions {
  /** Name carried by events and errors [`Name`]. @default 'breaker' */
  name?: string
  /**
   * Half-open trial calls: at most this many run at once, the rest are rejected at once;
   * this many consecutive successes close the circuit [`MaxRequests`]. Below 1 means 1.
   * @default 1
   */
  maxRequests?: number
  /**
   * Closed-state window in ms: counts are cleared every `intervalMs` (fixed window), or
   * roll bucket by bucket when `bucketMs` is set; `0` (or less) never clears [`Interval`].
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
   * How long the circuit stays open before a trial is allowed [`Timeout`]; a value of 0
   * or less falls back to the default. A function gets the trip number since the circuit
   * last closed (1, 2, ...) — see `openBackoff`.
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
  /**
   * Share trips and trial verdicts with the breakers of the same `name` on other replicas
   * (`redisBreakerStore()`, or `memoryBreakerStore()` within a process), and read the
   * shared state back every `syncMs`. Calls still decide from local state; when the open
   * period ends, only the replica holding the store's probe lease runs the half-open
   * trial. A store, or `{ store, syncMs, mergeCounts }` (see `SharedBreakerOptions`).
   * @default undefined (local only)
   */
  shared?: BreakerStateStore | SharedBreakerOptions
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

/** The open duration when `openMs` is not set, or not usable. */
export const DEFAULT_OPEN_MS = 60_000

/** Why a closed circuit opened: the `stateChange` reasons of a trip. */
export type TripReason =
  | 'consecutive-failures'
  | 'ready-to-trip'
  | 'failure-ratio'
  | 'slow-call-ratio'

/** `CircuitBreakerOptions` with gobreaker's normalisation and every default applied. */
export interface BreakerSettings {
  readonly name: string
  readonly clock: Clock
  readonly maxRequests: number
  /** 0 when counts never clear; a multiple of `bucketMs` otherwise. */
  readonly intervalMs: number
  readonly bucketMs: number
  /** Buckets in the closed-state window (1 = a fixed window). */
  readonly windowSize: number
  /** Whether the window rolls bucket by bucket (`windowSize` ≥ 2). */
  readonly rolling: boolean
  readonly openMs: number | ((trip: number) => number)
  readonly readyToTrip: ((counts: Counts) => boolean) | undefined
  /** The reason a `readyToTrip` trip reports: the default's, or a custom one's. */
  readonly readyReason: TripReason
  readonly failureRatio: number | undefined
  readonly slowCallMs: number
  readonly slowCallRatio: number | undefined
  /** `failureRatio` or `slowCallRatio` is set: successes can trip too. */
  readonly ratioTrip: boolean
  readonly minimumThroughput: number
  readonly outcome: (settled: Settled) => Outcome
  /** No rolling window, slow-call or ratio trip: a closed-state success needs no time. */
  readonly timeless: boolean
  readonly shared: LinkSettings | undefined
  /** `shared.mergeCounts`: closed-state results also count towards the cluster's window. */
  readonly mergeCounts: boolean
}

/** The sync interval when `shared.syncMs` is not set. */
export const DEFAULT_SYNC_MS = 1000

/**
 * Applies gobreaker's normalisation (a non-positive interval never clears, a
 * non-positive open duration falls back to the default, `maxRequests` below 1 is 1) and
 * Sturdy's defaults; rejects ratios outside (0, 1] and a slow-call ratio without a
 * threshold.
 *
 * @param o the caller's options
 * @returns the settings one breaker reads for its whole life
 */
export function resolveBreakerOptions(o: CircuitBreakerOptions): BreakerSettings {
  checkRatio('failureRatio', o.failureRatio)
  checkRatio('slowCallRatio', o.slowCallRatio)
  if (o.slowCallRatio !== undefined && o.slowCallMs === undefined) {
    throw new TypeError('slowCallRatio needs slowCallMs')
  }
  const ratioTrip = o.failureRatio !== undefined || o.slowCallRatio !== undefined
  const { intervalMs, bucketMs } = window(o, ratioTrip)
  const windowSize = intervalMs === 0 ? 1 : Math.round(intervalMs / bucketMs)
  const rolling = windowSize >= 2
  const slowCallMs = o.slowCallMs ?? Number.POSITIVE_INFINITY
  const shared = resolveShared(o.shared, ratioTrip, windowSize, bucketMs)
  return {
    name: o.name ?? 'breaker',
    clock: o.clock ?? systemClock,
    maxRequests: o.maxRequests !== undefined && o.maxRequests >= 1 ? Math.floor(o.maxRequests) : 1,
    intervalMs,
    bucketMs,
    windowSize,
    rolling,
    openMs: typeof o.openMs === 'function' ? o.openMs : positiveOr(o.openMs, DEFAULT_OPEN_MS),
    readyToTrip: o.readyToTrip ?? (ratioTrip ? undefined : defaultReadyToTrip),
    readyReason:
      o.readyToTrip === undefined || o.readyToTrip === defaultReadyToTrip
        ? 'consecutive-failures'
        : 'ready-to-trip',
    failureRatio: o.failureRatio,
    slowCallMs,
    slowCallRatio: o.slowCallRatio,
    ratioTrip,
    minimumThroughput: Math.max(1, o.minimumThroughput ?? 10),
    outcome: o.outcome ?? defaultOutcome,
    timeless: !rolling && slowCallMs === Number.POSITIVE_INFINITY && !ratioTrip,
    shared,
    mergeCounts: shared?.window !== undefined,
  }
}

/**
 * `shared` as the link reads it. Merged counts need a ratio trip (a consecutive-failures
 * streak is an order of events, and replicas share no order of calls) and a window (the
 * cluster's counts live in time buckets the store keeps).
 */
function resolveShared(
  shared: BreakerStateStore | SharedBreakerOptions | undefined,
  ratioTrip: boolean,
  windowSize: number,
  bucketMs: number,
): LinkSettings | undefined {
  if (shared === undefined) return undefined
  const o: SharedBreakerOptions = 'store' in shared ? shared : { store: shared }
  if (typeof o.store?.publish !== 'function') {
    throw new TypeError(
      'shared needs a store: circuitBreaker({ shared: redisBreakerStore(...) }) or { shared: { store } }',
    )
  }
  const syncMs = o.syncMs ?? DEFAULT_SYNC_MS
  if (!(syncMs > 0)) throw new RangeError(`shared.syncMs must be > 0, got ${syncMs}`)
  let window: LinkSettings['window']
  if (o.mergeCounts === true) {
    if (!ratioTrip) {
      throw new TypeError(
        'shared.mergeCounts needs failureRatio or slowCallRatio: consecutive-failure trips stay per replica',
      )
    }
    if (bucketMs === 0) throw new TypeError('shared.mergeCounts needs a window: intervalMs > 0')
    if (syncMs === Number.POSITIVE_INFINITY) {
      throw new TypeError('shared.mergeCounts reports counts every syncMs: syncMs must be finite')
    }
    window = { bucketMs, buckets: windowSize }
  }
  return { store: o.store, syncMs, random: o.random ?? systemRandom, window }
}

/** The closed-state window: fixed (one bucket of `intervalMs`), rolling, or none (0). */
function window(
  o: CircuitBreakerOptions,
  ratioTrip: boolean,
): { intervalMs: number; bucketMs: number } {
  const interval = o.intervalMs ?? (ratioTrip ? 10_000 : 0)
  const bucket = o.bucketMs ?? (ratioTrip && interval > 0 ? interval / 10 : 0)
  if (!(interval > 0)) return { intervalMs: 0, bucketMs: 0 }
  if (!(bucket > 0) || bucket >= interval) return { intervalMs: interval, bucketMs: interval }
  return { intervalMs: Math.ceil(interval / bucket) * bucket, bucketMs: bucket }
}

function positiveOr(value: number | undefined, fallback: number): number {
  return value !== undefined && value > 0 ? value : fallback
}

function checkRatio(name: string, value: number | undefined): void {
  if (value !== undefined && !(value > 0 && value <= 1)) {
    throw new RangeError(`${name} must be in (0, 1], got ${value}`)
  }
}
