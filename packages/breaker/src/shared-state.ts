/**
 * Shared breaker state: what replicas of a service tell each other about a breaker of
 * the same name, so that one replica's trip opens the others. The breaker stays
 * local-first: every call decides from local state; transitions are published and heard
 * asynchronously, read back periodically, and nothing waits on the network on the call
 * path.
 */
import type { Disposer, Random } from '@sturdy/core'

/** A transition one replica tells the others. */
export interface SharedTransition {
  /** The breaker's name (the key, for keyed breakers). */
  readonly name: string
  /**
   * `open`: tripped, or a half-open trial failed (open for `openRemainingMs`; once that is
   * 0, the probe lease holder's trial decides); `closed`: a half-open trial succeeded, or
   * `reset({ shared: true })`; `isolated`: `isolate({ shared: true })`.
   */
  readonly state: 'open' | 'closed' | 'isolated'
  /** Cluster-wide order of the breaker's transitions: a later one has a larger epoch. */
  readonly epoch: number
  /** Ms of the open period left (when published, or when read back); 0 unless open. */
  readonly openRemainingMs: number
  /** Which breaker instance published it (its own messages are not applied twice). */
  readonly origin: string
  /**
   * An operator's `isolate` / `reset` with `{ shared: true }`: a `closed` one also ends an
   * isolation and clears the trip history, which a trial's verdict does not.
   */
  readonly manual?: boolean
}

/**
 * One replica's closed-state results since its last report (`mergeCounts`), and the
 * window the cluster counts them in.
 */
export interface CountsReport {
  /** The epoch the results belong to: reports of an older epoch are dropped. */
  readonly epoch: number
  readonly successes: number
  readonly failures: number
  readonly slowCalls: number
  /** Bucket size of the cluster's window, on the store's clock. */
  readonly bucketMs: number
  /** Buckets in the window (1 = a fixed window of `bucketMs`). */
  readonly buckets: number
}

/** The cluster's closed-state results over the window, for the store's epoch. */
export interface SharedCounts {
  /** The store's epoch; the counts are zero when the report's epoch was older. */
  readonly epoch: number
  readonly successes: number
  readonly failures: number
  readonly slowCalls: number
}

/**
 * Where replicas meet: `memoryBreakerStore()` (breakers in one process, and tests) or
 * `redisBreakerStore()` (replicas on one Redis). Failures never reach a call: a store
 * that cannot publish or grant a probe leaves each replica on its local state.
 */
export interface BreakerStateStore {
  /**
   * Publishes a transition; resolves with the epoch the store gave it (at least
   * `provisionalEpoch`). Also remembered as the breaker's current shared state.
   */
  publish(transition: Omit<SharedTransition, 'epoch'>, provisionalEpoch: number): Promise<number>
  /**
   * Calls `fn` with breaker `name`'s transitions, starting with the one in force, if any,
   * so a late replica joins an open circuit. Delivery may lose messages (a subscriber
   * connection that is down): `current()`, read periodically, covers for them.
   */
  subscribe(name: string, fn: (transition: SharedTransition) => void): Disposer
  /**
   * The breaker's latest shared transition, with `openRemainingMs` as left now (an open
   * circuit whose period is over reads 0: a trial is due). Undefined when none is known.
   */
  current(name: string): Promise<SharedTransition | undefined>
  /**
   * Asks to run the half-open trial of `epoch`: true for exactly one replica (until
   * `ttlMs` passes without a verdict, when another may take over).
   */
  acquireProbe(name: string, epoch: number, origin: string, ttlMs: number): Promise<boolean>
  /**
   * Adds a replica's results to the window of the store's epoch and returns the window's
   * totals. A report of an older epoch is dropped (its results are from before a
   * transition); one of a newer epoch than the store knows (a store that lost its data)
   * moves the store to it.
   */
  addCounts(name: string, report: CountsReport): Promise<SharedCounts>
}

/** `circuitBreaker({ shared })` in full; a bare store means these defaults. */
export interface SharedBreakerOptions {
  /** Where the replicas meet: `redisBreakerStore(...)` or `memoryBreakerStore()`. */
  store: BreakerStateStore
  /**
   * Longest wait between two reads of the breaker's shared state (and, with
   * `mergeCounts`, two count reports). Each wait is drawn in (syncMs / 2, syncMs], so
   * replicas spread out. A transition whose message a replica missed reaches it within
   * this (plus a store round trip). `Infinity`: no periodic sync (pub/sub only).
   * @default 1000
   */
  syncMs?: number
  /**
   * Trip on the cluster's counts too: each replica reports its results every sync, and
   * trips when the summed window meets `failureRatio` / `slowCallRatio` with at least
   * `minimumThroughput` results cluster-wide. Ratio trips only (a consecutive-failures
   * streak has no cluster-wide order); needs a window (`intervalMs` > 0).
   * @default false
   */
  mergeCounts?: boolean
  /** Jitter source for the sync interval. @default systemRandom */
  random?: Random
}
