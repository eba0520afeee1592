/**
 * The seam between a limiter and the algorithm that sizes it. Algorithms are plain
 * state machines fed one sample per finished call, with time passed in (`now`), so they
 * are runtime-neutral and tested with a manual clock and a seeded random source.
 */

/** One finished call, as the limiter reports it to its algorithm. */
export interface LimitSample {
  /** When the call finished, in ms on the limiter's clock. */
  readonly now: number
  /** How long the call took, in ms. */
  readonly rttMs: number
  /** Calls in flight when this one was admitted, itself included. */
  readonly inflight: number
  /**
   * The call failed in a way that means "too much load" (a timeout, a 503 from below):
   * loss-based algorithms (AIMD, Vegas) back off on it.
   */
  readonly dropped: boolean
}

/**
 * Sizes a concurrency limit from observed calls. `limit` is always a whole number within
 * the algorithm's `[minLimit, maxLimit]`.
 *
 * @example
 * const algo = gradientLimit({ minLimit: 2 })
 * algo.onSample({ now: 100, rttMs: 12, inflight: 8, dropped: false })
 * algo.limit // the concurrency to allow now
 */
export interface LimitAlgorithm {
  /** The concurrency to allow now. */
  readonly limit: number
  /** Feeds one finished call. */
  onSample(sample: LimitSample): void
}

/** The bounds every adaptive algorithm takes. */
export interface LimitBounds {
  /** The limit before any sample. */
  initialLimit?: number
  /** The limit never goes below this (at least 1). */
  minLimit?: number
  /** The limit never goes above this. */
  maxLimit?: number
}

/** Resolved, validated bounds. */
export interface Bounds {
  readonly initial: number
  readonly min: number
  readonly max: number
}

/** Validates bounds against an algorithm's defaults; throws a RangeError naming the bad one. */
export function resolveBounds(options: LimitBounds, defaults: Bounds, algorithm: string): Bounds {
  const min = options.minLimit ?? defaults.min
  const max = options.maxLimit ?? defaults.max
  if (!(Number.isFinite(min) && min >= 1)) {
    throw new RangeError(`${algorithm}: minLimit must be a number >= 1, got ${min}`)
  }
  if (!(max >= min)) throw new RangeError(`${algorithm}: maxLimit must be >= minLimit, got ${max}`)
  const initial = clamp(options.initialLimit ?? defaults.initial, min, max)
  if (Number.isNaN(initial)) throw new RangeError(`${algorithm}: initialLimit must be a number`)
  return { initial, min, max }
}

/** `x` within `[lo, hi]`. */
export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : Math.min(x, hi)
}

/**
 * A fixed limit: the bulkhead. Samples are ignored.
 *
 * @param limit the concurrency to allow, at least 1
 * @returns an algorithm whose limit never moves
 * @example
 * concurrencyLimiter({ limit: fixedLimit(16) }) // same as { limit: 16 }
 */
export function fixedLimit(limit: number): LimitAlgorithm {
  if (!(limit >= 1)) throw new RangeError(`fixedLimit: limit must be >= 1, got ${limit}`)
  const whole = Math.floor(limit)
  return { limit: whole, onSample() {} }
}
