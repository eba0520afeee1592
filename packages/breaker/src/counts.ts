/**
 * gobreaker's `Counts`, plus `slowCalls`. Cleared whenever the state changes and at
 * every closed-state interval; in a rolling window, old buckets expire one at a time.
 */
export interface Counts {
  /** Calls admitted (in flight or finished) in the current window. */
  readonly requests: number
  readonly totalSuccesses: number
  readonly totalFailures: number
  /** Calls whose outcome was `excluded`: neither success nor failure. */
  readonly totalExclusions: number
  readonly consecutiveSuccesses: number
  readonly consecutiveFailures: number
  /** Successes and failures that took at least `slowCallMs`. */
  readonly slowCalls: number
}

type Tally = { -readonly [K in keyof Counts]: number }

const zero = (): Tally => ({
  requests: 0,
  totalSuccesses: 0,
  totalFailures: 0,
  totalExclusions: 0,
  consecutiveSuccesses: 0,
  consecutiveFailures: 0,
  slowCalls: 0,
})

function clear(t: Tally): void {
  t.requests = 0
  t.totalSuccesses = 0
  t.totalFailures = 0
  t.totalExclusions = 0
  t.consecutiveSuccesses = 0
  t.consecutiveFailures = 0
  t.slowCalls = 0
}

function success(t: Tally, slow: boolean): void {
  t.totalSuccesses++
  t.consecutiveSuccesses++
  t.consecutiveFailures = 0
  if (slow) t.slowCalls++
}

function failure(t: Tally, slow: boolean): void {
  t.totalFailures++
  t.consecutiveFailures++
  t.consecutiveSuccesses = 0
  if (slow) t.slowCalls++
}

/** A copy of `t` that callers may keep. */
export function snapshotCounts(t: Counts): Counts {
  return { ...t }
}

/**
 * Counts over a window of `size` time buckets (size 1 = gobreaker's fixed window).
 *
 * A call is requested in the current bucket and its result lands in the bucket of the
 * age it started in, provided that bucket is still inside the window — a result whose
 * bucket has rolled out is dropped, like gobreaker's rolling counts. No timer: `grow()`
 * is called with the age the clock says, whenever the breaker looks at its counts.
 */
export class RollingCounts {
  /** Totals over the whole window. */
  readonly total: Tally = zero()
  /** Age (bucket index since the generation started) of the current bucket. */
  age = 0
  readonly #buckets: Tally[]

  constructor(size: number) {
    this.#buckets = Array.from({ length: Math.max(1, size) }, zero)
  }

  get size(): number {
    return this.#buckets.length
  }

  onRequest(): void {
    this.total.requests++
    ;(this.#buckets[this.age % this.#buckets.length] as Tally).requests++
  }

  onSuccess(age: number, slow: boolean): void {
    const b = this.#bucket(age)
    if (b === undefined) return
    success(this.total, slow)
    success(b, slow)
  }

  onFailure(age: number, slow: boolean): void {
    const b = this.#bucket(age)
    if (b === undefined) return
    failure(this.total, slow)
    failure(b, slow)
  }

  onExclusion(age: number): void {
    const b = this.#bucket(age)
    if (b === undefined) return
    this.total.totalExclusions++
    b.totalExclusions++
  }

  /** Adds restored counts to the current bucket (snapshot restore). */
  restore(c: Partial<Counts>): void {
    const b = this.#buckets[this.age % this.#buckets.length] as Tally
    // Only known fields, only non-negative integers: snapshots may come from storage.
    for (const k of Object.keys(this.total) as (keyof Counts)[]) {
      const raw = c[k]
      const v = typeof raw === 'number' && Number.isFinite(raw) && raw > 0 ? Math.floor(raw) : 0
      this.total[k] = v
      b[k] = v
    }
  }

  clear(): void {
    clear(this.total)
    for (const b of this.#buckets) clear(b)
    this.age = 0
  }

  /** Rolls the window forward to `age`, expiring the buckets that fall out of it. */
  grow(age: number): void {
    if (age <= this.age) return
    if (age - this.age >= this.#buckets.length) {
      this.clear()
      this.age = age
      return
    }
    while (this.age < age) this.#roll()
  }

  /** The bucket of `age`, or undefined once it has left the window (or is in the future). */
  #bucket(age: number): Tally | undefined {
    const n = this.#buckets.length
    if (age > this.age || this.age - age >= n) return undefined
    return this.#buckets[age % n]
  }

  #roll(): void {
    this.age++
    const n = this.#buckets.length
    const oldest = this.#buckets[this.age % n] as Tally
    const t = this.total
    // A streak reaches into the expiring bucket only when every success (failure) in the
    // newer buckets belongs to it; then the expiring bucket's share of the streak goes.
    let laterSuccesses = 0
    let laterFailures = 0
    for (const b of this.#buckets) {
      if (b === oldest) continue
      laterSuccesses += b.totalSuccesses
      laterFailures += b.totalFailures
    }
    if (t.consecutiveSuccesses === oldest.consecutiveSuccesses + laterSuccesses) {
      t.consecutiveSuccesses = Math.max(0, t.consecutiveSuccesses - oldest.consecutiveSuccesses)
    }
    if (t.consecutiveFailures === oldest.consecutiveFailures + laterFailures) {
      t.consecutiveFailures = Math.max(0, t.consecutiveFailures - oldest.consecutiveFailures)
    }
    t.requests = Math.max(0, t.requests - oldest.requests)
    t.totalSuccesses = Math.max(0, t.totalSuccesses - oldest.totalSuccesses)
    t.totalFailures = Math.max(0, t.totalFailures - oldest.totalFailures)
    t.totalExclusions = Math.max(0, t.totalExclusions - oldest.totalExclusions)
    t.slowCalls = Math.max(0, t.slowCalls - oldest.slowCalls)
    clear(oldest)
  }
}
