import type { Random } from '@sturdy/core'

/**
 * How a retry delay is spread around the exponential curve.
 *
 * - `full`: uniform in `[0, d)` — the default; spreads a burst of clients the most.
 * - `equal`: `d/2 + uniform[0, d/2)` — never shorter than half the curve.
 * - `decorrelated`: `min(cap, uniform[base, 3·previous))` — grows from the last delay
 *   rather than the attempt number.
 * - `none`: exactly `d`. Synchronised clients retry in lock step; use it only for tests
 *   or a single caller.
 *
 * where `d = min(cap, base · factor^n)` and `n` is 0 for the first retry.
 *
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/ (all three formulas, and why no-jitter does worst)
 */
export type Jitter = 'full' | 'equal' | 'decorrelated' | 'none'

/** Options of `exponentialBackoff`. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter, in ms. @default 100 */
  baseDelayMs?: number
  /** Cap on any computed delay, in ms. Must be finite. @default 10000 */
  maxDelayMs?: number
  /** Growth per retry (`base · factor^n`); ignored by `decorrelated`. @default 2 */
  factor?: number
  /** Jitter strategy. @default 'full' */
  jitter?: Jitter
}

/**
 * Computes one delay. Pure, so one backoff is shared by every call of a policy.
 *
 * @param retry 0 for the first retry, 1 for the second, ...
 * @param previousDelayMs the delay this backoff returned for the previous retry (0 before the first)
 * @param random uniform source in [0, 1)
 */
export type Backoff = (retry: number, previousDelayMs: number, random: Random) => number

/** Defaults of `exponentialBackoff`, written once. */
export const BACKOFF_DEFAULTS: Readonly<Required<BackoffOptions>> = Object.freeze({
  baseDelayMs: 100,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 'full',
})

/**
 * Exponential backoff with a cap and a jitter strategy (AWS formulas).
 *
 * @param options base delay, cap, growth and jitter (see `BackoffOptions`)
 * @returns a `Backoff` function
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 * @example
 * import { seededRandom } from '@sturdy/core/testing'
 * const next = exponentialBackoff({ baseDelayMs: 50, maxDelayMs: 1000, jitter: 'equal' })
 * next(0, 0, seededRandom(1)) // somewhere in [25, 50)
 */
export function exponentialBackoff(options: BackoffOptions = {}): Backoff {
  const base = options.baseDelayMs ?? BACKOFF_DEFAULTS.baseDelayMs
  const cap = options.maxDelayMs ?? BACKOFF_DEFAULTS.maxDelayMs
  const factor = options.factor ?? BACKOFF_DEFAULTS.factor
  const jitter = options.jitter ?? BACKOFF_DEFAULTS.jitter
  assertMs('baseDelayMs', base)
  assertMs('maxDelayMs', cap)
  if (!Number.isFinite(factor) || factor < 1) {
    throw new RangeError(`factor must be a finite number >= 1, got ${factor}`)
  }
  // `base · factor^n` overflows to Infinity for large n; `min` with the finite cap keeps it sane.
  const curve = (retry: number): number => Math.min(cap, base * factor ** retry)
  switch (jitter) {
    case 'none':
      return (retry) => curve(retry)
    case 'full':
      return (retry, _previous, random) => random() * curve(retry)
    case 'equal':
      return (retry, _previous, random) => {
        const half = curve(retry) / 2
        return half + random() * half
      }
    case 'decorrelated':
      // AWS: sleep = min(cap, random_between(base, sleep * 3)), sleep starting at base.
      // Clamping `previous` up to `base` keeps the range non-empty after a pushback or a
      // custom delay shorter than base.
      return (_retry, previous, random) => {
        const from = Math.max(base, previous)
        return Math.min(cap, base + random() * (from * 3 - base))
      }
    default:
      throw new RangeError(`unknown jitter '${String(jitter)}'`)
  }
}

function assertMs(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${value}`)
  }
}
