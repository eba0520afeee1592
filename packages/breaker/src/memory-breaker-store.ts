import type { Clock } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import type {
  BreakerStateStore,
  CountsReport,
  SharedCounts,
  SharedTransition,
} from './shared-state.ts'

/** Options of `memoryBreakerStore`. */
export interface MemoryBreakerStoreOptions {
  /** Time source for open periods, probe leases and count buckets. @default systemClock */
  clock?: Clock
}

interface Latest {
  readonly transition: SharedTransition
  /** When an open transition's period ends, on the store's clock. */
  readonly until: number
}

interface Window {
  epoch: number
  /** Bucket index → successes, failures, slow calls. */
  readonly buckets: Map<number, [number, number, number]>
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
  const latest = new Map<string, Latest>()
  // One lease per breaker name: a later epoch's lease replaces the earlier one.
  const probes = new Map<string, { epoch: number; origin: string; until: number }>()
  const listeners = new Map<string, Set<(t: SharedTransition) => void>>()
  const windows = new Map<string, Window>()

  const current = (name: string): SharedTransition | undefined => {
    const held = latest.get(name)
    if (held === undefined) return undefined
    const { transition } = held
    if (transition.state !== 'open') return transition
    return { ...transition, openRemainingMs: Math.max(0, held.until - clock.now()) }
  }

  return {
    async publish(t, provisional) {
      const epoch = Math.max((epochs.get(t.name) ?? 0) + 1, provisional)
      epochs.set(t.name, epoch)
      const transition: SharedTransition = { ...t, epoch }
      latest.set(t.name, { transition, until: clock.now() + t.openRemainingMs })
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
      const now = current(name)
      if (now !== undefined) queueMicrotask(() => fn(now))
      return () => {
        set.delete(fn)
        if (set.size === 0) listeners.delete(name)
      }
    },
    async current(name) {
      return current(name)
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
    async addCounts(name, report) {
      return addCounts(epochs, windows, name, report, clock.now())
    },
  }
}

/** The same rules as the Redis store's counts script (`redis-breaker-store.ts`). */
function addCounts(
  epochs: Map<string, number>,
  windows: Map<string, Window>,
  name: string,
  r: CountsReport,
  now: number,
): SharedCounts {
  let epoch = epochs.get(name) ?? 0
  if (r.epoch < epoch) return { epoch, successes: 0, failures: 0, slowCalls: 0 }
  if (r.epoch > epoch) {
    epoch = r.epoch
    epochs.set(name, epoch)
  }
  let w = windows.get(name)
  if (w === undefined || w.epoch !== epoch) {
    w = { epoch, buckets: new Map() }
    windows.set(name, w)
  }
  const bucket = Math.floor(now / r.bucketMs)
  if (r.successes > 0 || r.failures > 0 || r.slowCalls > 0) {
    const b = w.buckets.get(bucket) ?? [0, 0, 0]
    b[0] += r.successes
    b[1] += r.failures
    b[2] += r.slowCalls
    w.buckets.set(bucket, b)
  }
  const sum = { epoch, successes: 0, failures: 0, slowCalls: 0 }
  for (const [index, b] of w.buckets) {
    if (index <= bucket - r.buckets) {
      w.buckets.delete(index)
    } else if (index <= bucket) {
      sum.successes += b[0]
      sum.failures += b[1]
      sum.slowCalls += b[2]
    }
  }
  return sum
}
