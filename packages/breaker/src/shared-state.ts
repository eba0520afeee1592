/**
 * Shared breaker state: what replicas of a service tell each other about a breaker of
 * the same name, so that one replica's trip opens the others. The breaker stays
 * local-first: every call decides from local state; transitions are published and heard
 * asynchronously, and nothing waits on the network on the call path.
 */
import type { Clock, Disposer } from '@sturdy/core'
import { systemClock } from '@sturdy/core'

/** A transition one replica tells the others. */
export interface SharedTransition {
  /** The breaker's name (the key, for keyed breakers). */
  readonly name: string
  /**
   * `open`: tripped, or a half-open trial failed (open for `openRemainingMs`);
   * `closed`: a half-open trial succeeded.
   */
  readonly state: 'open' | 'closed'
  /** Cluster-wide order of the breaker's transitions: a later one has a larger epoch. */
  readonly epoch: number
  /** Ms of the open period left when it was published; 0 for `closed`. */
  readonly openRemainingMs: number
  /** Which breaker instance published it (its own messages are ignored). */
  readonly origin: string
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
   * Calls `fn` with breaker `name`'s transitions (the caller skips its own), starting with
   * the one in force, if any, so a late replica joins an open circuit.
   */
  subscribe(name: string, fn: (transition: SharedTransition) => void): Disposer
  /** The breaker's latest shared transition still in force, for a replica that starts late. */
  current(name: string): Promise<SharedTransition | undefined>
  /**
   * Asks to run the half-open trial of `epoch`: true for exactly one replica (until
   * `ttlMs` passes without a verdict, when another may take over).
   */
  acquireProbe(name: string, epoch: number, origin: string, ttlMs: number): Promise<boolean>
}

/** Options of `memoryBreakerStore`. */
export interface MemoryBreakerStoreOptions {
  /** Time source for probe leases. @default systemClock */
  clock?: Clock
}

/**
 * An in-process store: breakers of the same name attached to it behave like replicas
 * sharing a Redis (deliveries are asynchronous, as over the network). Useful to share
 * state between breaker instances in one process, and to test shared behaviour with a
 * manual clock.
 *
 * @param options see `MemoryBreakerStoreOptions`
 * @returns the store
 * @example
 * const store = memoryBreakerStore()
 * const a = circuitBreaker({ name: 'payments', shared: store })
 * const b = circuitBreaker({ name: 'payments', shared: store })
 * // a trip of `a` opens `b` a moment later
 */
export function memoryBreakerStore(options: MemoryBreakerStoreOptions = {}): BreakerStateStore {
  const clock = options.clock ?? systemClock
  const epochs = new Map<string, number>()
  const latest = new Map<string, SharedTransition>()
  // One lease per breaker name: a later epoch's lease replaces the earlier one.
  const probes = new Map<string, { epoch: number; origin: string; until: number }>()
  const listeners = new Map<string, Set<(t: SharedTransition) => void>>()
  return {
    async publish(t, provisional) {
      const epoch = Math.max((epochs.get(t.name) ?? 0) + 1, provisional)
      epochs.set(t.name, epoch)
      const transition: SharedTransition = { ...t, epoch }
      latest.set(t.name, transition)
      for (const fn of listeners.get(t.name) ?? []) {
        queueMicrotask(() => fn(transition))
      }
      return epoch
    },
    subscribe(name, fn) {
      let set = listeners.get(name)
      if (set === undefined) {
        set = new Set()
        listeners.set(name, set)
      }
      set.add(fn)
      const now = latest.get(name)
      if (now !== undefined) queueMicrotask(() => fn(now))
      return () => {
        set.delete(fn)
        if (set.size === 0) listeners.delete(name)
      }
    },
    async current(name) {
      return latest.get(name)
    },
    async acquireProbe(name, epoch, origin, ttlMs) {
      const held = probes.get(name)
      const now = clock.now()
      if (held !== undefined) {
        if (held.epoch > epoch) return false
        if (held.epoch === epoch && held.origin !== origin && held.until > now) return false
      }
      probes.set(name, { epoch, origin, until: now + ttlMs })
      return true
    },
  }
}
