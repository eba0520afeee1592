/** Options of `openBackoff`. */
export interface OpenBackoffOptions {
  /** Open duration after the first trip, in ms. @default 5000 */
  initialMs?: number
  /** Upper bound of the open duration, in ms. @default 300000 */
  maxMs?: number
  /** Growth per consecutive trip. @default 2 */
  factor?: number
}

/**
 * An open duration that grows while the circuit keeps re-tripping: `initialMs` after
 * the first trip, ×`factor` after each trip that follows a failed half-open probe, capped
 * at `maxMs`. A successful close starts again from `initialMs`. This is the
 * `waitIntervalFunctionInOpenState` of resilience4j / Polly's `BreakDurationGenerator`
 * (gobreaker and opossum only have a fixed timeout). Pass it as `openMs`.
 *
 * @param options growth parameters (see `OpenBackoffOptions`)
 * @returns a function of the trip number (1 = first trip since the last close)
 * @example
 * const breaker = circuitBreaker({ openMs: openBackoff({ initialMs: 1000, maxMs: 60_000 }) })
 */
export function openBackoff(options: OpenBackoffOptions = {}): (trip: number) => number {
  const initial = options.initialMs ?? 5000
  const max = options.maxMs ?? 300_000
  const factor = options.factor ?? 2
  if (!(initial >= 0) || !(max >= initial) || !(factor >= 1)) {
    throw new RangeError('openBackoff needs 0 <= initialMs <= maxMs and factor >= 1')
  }
  return (trip) => Math.min(max, initial * factor ** Math.max(0, trip - 1))
}
