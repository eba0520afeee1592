import type { BreakerEventMap, Clock, Events, PolicyFn } from '@sturdy/core'
import { createEmitter, systemClock } from '@sturdy/core'
import type { CircuitBreakerOptions } from './breaker-options.ts'
import type { CircuitBreaker } from './circuit-breaker.ts'
import { createBreaker, DETACH } from './circuit-breaker.ts'

/** Per-key breaker options: everything but `name` (the key) and `clock` (shared). */
export type KeyBreakerOptions = Omit<CircuitBreakerOptions, 'name' | 'clock'>

/** Options of `keyedBreaker`. */
export interface KeyedBreakerOptions {
  /** Name of the set, for observers (`kind: 'breaker'`). @default 'breakers' */
  name?: string
  /** Options of every key's breaker, or a factory per key. @default {} (gobreaker defaults) */
  breaker?: KeyBreakerOptions | ((key: string) => KeyBreakerOptions)
  /** Most breakers kept; the least recently used is dropped beyond it. @default 1000 */
  maxKeys?: number
  /**
   * A breaker unused for this long is dropped (checked lazily on access, no timer), unless
   * it is isolated or still inside its open period. `Infinity` keeps them. @default 600000
   */
  idleMs?: number
  /** Time source shared by every breaker. @default systemClock */
  clock?: Clock
}

/**
 * A bounded set of circuit breakers, one per key (host, route, tenant...). Every breaker
 * emits on the set's `events`, with the key as `name`, so one observer watches them all.
 */
export interface KeyedBreaker {
  readonly kind: 'breaker'
  readonly name: string
  readonly events: Events<BreakerEventMap>
  /** The clock every breaker of the set reads. */
  readonly clock: Clock
  /** The breaker of `key`, created on first use; marks it recently used. */
  get(key: string): CircuitBreaker
  /** The breaker of `key` if it exists; does not create it nor mark it used. */
  peek(key: string): CircuitBreaker | undefined
  /** Runs `fn` through the breaker of `key`. */
  execute<T>(key: string, fn: PolicyFn<T>, signal?: AbortSignal, attempt?: number): Promise<T>
  /** Drops the breaker of `key`; returns whether there was one. */
  delete(key: string): boolean
  /** Breakers currently held. */
  readonly size: number
  /** The keys held, least recently used first. */
  keys(): IterableIterator<string>
}

interface Entry {
  readonly breaker: CircuitBreaker
  used: number
}

/** How many idle entries one access may look at, so eviction stays O(1) per call. */
const SWEEP = 2

/**
 * Creates a bounded set of breakers keyed by a string, with LRU and idle-TTL eviction.
 *
 * There is no timer, neither per breaker nor for the set: open periods and bucket
 * rotation are clock-based and evaluated when a key is used, and idle entries are swept
 * a couple at a time on access. Memory is bounded by `maxKeys`. Note that dropping a
 * breaker forgets its state: size `maxKeys` above the number of keys you expect.
 *
 * @param options see `KeyedBreakerOptions` (every option is optional)
 * @returns the keyed breaker set
 * @example
 * import { keyedBreaker } from '@sturdy/breaker'
 *
 * const hosts = keyedBreaker({ breaker: { failureRatio: 0.5 }, maxKeys: 100 })
 * hosts.events.on('stateChange', (e) => console.log(e.name, e.from, '->', e.to))
 * const url = new URL('http://127.0.0.1:9000/orders')
 * await hosts.execute(url.host, ({ signal }) => fetch(url, { signal }))
 */
export function keyedBreaker(options: KeyedBreakerOptions = {}): KeyedBreaker {
  const clock = options.clock ?? systemClock
  const maxKeys = Math.max(1, options.maxKeys ?? 1000)
  const idleMs = options.idleMs ?? 600_000
  const perKey = options.breaker ?? {}
  const events = createEmitter<BreakerEventMap>()
  // Map iteration order is insertion order: re-inserting on use keeps it LRU-first.
  const entries = new Map<string, Entry>()

  const sweep = (now: number): void => {
    let n = 0
    for (const [key, entry] of entries) {
      if (n++ >= SWEEP || now - entry.used < idleMs) return
      entries.delete(key)
      // Keep a breaker that still holds a verdict; it moves to the back as if used.
      if (holdsVerdict(entry.breaker)) {
        entry.used = now
        entries.set(key, entry)
      } else {
        detach(entry.breaker)
      }
    }
  }

  const get = (key: string): CircuitBreaker => {
    const now = clock.now()
    let entry = entries.get(key)
    if (entry !== undefined) {
      entries.delete(key)
      entry.used = now
    } else {
      const o = typeof perKey === 'function' ? perKey(key) : perKey
      entry = { breaker: createBreaker({ ...o, name: key, clock }, events), used: now }
      if (entries.size >= maxKeys) {
        const oldest = entries.entries().next()
        if (oldest.done !== true) {
          entries.delete(oldest.value[0])
          detach(oldest.value[1].breaker)
        }
      }
    }
    entries.set(key, entry)
    if (idleMs !== Number.POSITIVE_INFINITY) sweep(now)
    return entry.breaker
  }

  return {
    kind: 'breaker',
    name: options.name ?? 'breakers',
    events,
    clock,
    get,
    peek: (key) => entries.get(key)?.breaker,
    execute: (key, fn, signal, attempt) => get(key).execute(fn, signal, attempt),
    delete: (key) => {
      const entry = entries.get(key)
      if (entry !== undefined) detach(entry.breaker)
      return entries.delete(key)
    },
    get size() {
      return entries.size
    },
    keys: () => entries.keys(),
  }
}

/** Stops a dropped breaker listening to its shared store, if it has one. */
function detach(breaker: CircuitBreaker): void {
  ;(breaker as { [DETACH]?: () => void })[DETACH]?.()
}

/** Isolated, or open with time left: dropping it would let traffic through early. */
function holdsVerdict(breaker: CircuitBreaker): boolean {
  const s = breaker.state
  return s === 'isolated' || (s === 'open' && breaker.retryAfterMs() > 0)
}
