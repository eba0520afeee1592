import type { Clock } from '@sturdy/core'
import { systemClock } from '@sturdy/core'

/** Options of `retryBudget`. */
export interface RetryBudgetOptions {
  /** Retries allowed per request, over the window (0.2 = 20%). @default 0.2 */
  ratio?: number
  /** Retries always allowed per second, so a quiet or just-started client can still retry. @default 10 */
  minRetriesPerSecond?: number
  /** How long a request's credit (and a retry's debit) counts. @default 10000 */
  ttlMs?: number
  /** Buckets the window is kept in; credit expires one bucket at a time. @default 10 */
  buckets?: number
  /** Time source. @default systemClock */
  clock?: Clock
}

/**
 * A retry budget shared by every retry policy that calls one dependency. Each call
 * deposits credit; each retry withdraws. Retries stop when the credit is spent, so a
 * dependency in trouble gets at most `ratio` extra load, not `maxAttempts` times its load.
 */
export interface RetryBudget {
  /** Records one request (first attempts only; retries are not requests). */
  deposit(): void
  /** Takes one retry from the budget; false (and nothing taken) when it is spent. */
  tryWithdraw(): boolean
  /** Whole retries available right now. */
  available(): number
}

// Integer arithmetic: a request deposits `ratio · SCALE`, a retry costs SCALE, so a
// long-running budget never drifts the way summing 0.2s would.
const SCALE = 1000

/**
 * Creates a retry budget with Finagle's semantics: within any `ttlMs` window, retries ≤
 * `ratio` × requests + `minRetriesPerSecond` × `ttlMs`/1000. Credit older than the
 * window expires bucket by bucket (no timer: buckets rotate lazily on use).
 *
 * Envoy's `retry_budget` caps *concurrent* retries instead (20% of active requests, min
 * 3); this time-window form needs no in-flight tracking and works across policies.
 *
 * @param options ratio, floor, window and clock (see `RetryBudgetOptions`)
 * @returns a shareable `RetryBudget`
 * @see https://finagle.github.io/blog/2016/02/08/retry-budgets
 * @example
 * const budget = retryBudget({ ratio: 0.1 })
 * const users = retry({ budget, name: 'users-api' })
 * const orders = retry({ budget, name: 'users-api-batch' }) // same dependency, same budget
 */
export function retryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  const ratio = options.ratio ?? 0.2
  const floor = options.minRetriesPerSecond ?? 10
  const ttlMs = options.ttlMs ?? 10_000
  const n = options.buckets ?? 10
  const clock = options.clock ?? systemClock
  if (!(Number.isFinite(ratio) && ratio >= 0)) throw new RangeError('ratio must be >= 0')
  if (!(Number.isFinite(floor) && floor >= 0)) {
    throw new RangeError('minRetriesPerSecond must be >= 0')
  }
  if (!(Number.isFinite(ttlMs) && ttlMs > 0)) throw new RangeError('ttlMs must be > 0')
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError('buckets must be an integer >= 1')

  const depositAmount = Math.round(ratio * SCALE)
  const reserve = Math.floor(floor * (ttlMs / 1000) * SCALE)
  const bucketMs = ttlMs / n
  const window = new Array<number>(n).fill(0)
  let sum = 0
  let tick = Math.floor(clock.now() / bucketMs)

  // Clears the buckets that fell out of the window since the last use.
  const rotate = (): number => {
    const now = Math.floor(clock.now() / bucketMs)
    const steps = Math.min(n, now - tick)
    for (let i = 1; i <= steps; i++) {
      const b = (((tick + i) % n) + n) % n
      sum -= window[b] as number
      window[b] = 0
    }
    if (now > tick) tick = now
    return ((tick % n) + n) % n
  }

  return {
    deposit() {
      const b = rotate()
      window[b] = (window[b] as number) + depositAmount
      sum += depositAmount
    },
    tryWithdraw() {
      const b = rotate()
      if (reserve + sum < SCALE) return false
      window[b] = (window[b] as number) - SCALE
      sum -= SCALE
      return true
    },
    available() {
      rotate()
      return Math.max(0, Math.floor((reserve + sum) / SCALE))
    },
  }
}
