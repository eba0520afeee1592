/**
 * Time and randomness seams. Every package takes a `clock` and a `random` option with
 * these defaults, so tests drive time and jitter deterministically (see
 * `@sturdy/core/testing`) instead of sleeping or faking global timers.
 */

/** An opaque handle returned by `Clock.setTimeout`. */
export type TimerHandle = unknown

/** A source of time and timers. */
export interface Clock {
  /** Milliseconds on a monotonic-enough scale; only differences are meaningful. */
  now(): number
  /** Runs `fn` after `ms`; the timer must not keep the process alive. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  clearTimeout(handle: TimerHandle): void
}

/** A source of uniform random numbers in [0, 1). */
export type Random = () => number

/** The real clock: `performance.now()` and unref'd platform timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = globalThis.setTimeout(fn, ms) as unknown as { unref?: () => void }
    t.unref?.()
    return t
  },
  clearTimeout: (handle) => globalThis.clearTimeout(handle as never),
}

/** `Math.random`. */
export const systemRandom: Random = Math.random
