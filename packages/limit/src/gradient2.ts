import type { LimitAlgorithm, LimitBounds, LimitSample } from './algorithm.ts'
import { clamp, resolveBounds } from './algorithm.ts'

/** Options of `gradient2Limit()`; Netflix's defaults. The bounds are on `LimitBounds`. */
export interface Gradient2LimitOptions extends LimitBounds {
  /** How far the limit moves toward each new value. @default 0.2 */
  smoothing?: number
  /** How much slower the short-term RTT may be than the long-term one before shrinking. @default 1.5 */
  rttTolerance?: number
  /** Samples in the long-term RTT average (an exponential moving average). @default 600 */
  longWindow?: number
  /** Growth allowed per sample on top of the gradient, from the current limit. @default () => 4 */
  queueSize?: (limit: number) => number
}

/**
 * Netflix's Gradient2: compares the latest RTT with an exponential average of the last
 * `longWindow` RTTs; `gradient = clamp(rttTolerance × long / short, 0.5, 1)` and the
 * limit moves (smoothed) toward `limit × gradient + queueSize`. When the long average
 * is more than twice the short RTT, it is decayed (×0.95) so the limit recovers
 * quickly after a long overload. No growth while fewer than half the limit are in use.
 *
 * Its reference is the recent past, not the unloaded service, so a latency that rises
 * slowly raises the reference with it; `gradientLimit()` measures the minimum instead.
 *
 * @param options bounds (initial 20, min 20, max 200: Netflix's) and tuning; see `Gradient2LimitOptions`
 * @returns the algorithm
 * @see https://github.com/Netflix/concurrency-limits (Gradient2Limit.java)
 * @example
 * concurrencyLimit({ limit: gradient2Limit({ minLimit: 4 }) })
 */
export function gradient2Limit(options: Gradient2LimitOptions = {}): LimitAlgorithm {
  const bounds = resolveBounds(options, { initial: 20, min: 20, max: 200 }, 'gradient2Limit')
  const smoothing = options.smoothing ?? 0.2
  if (!(smoothing > 0 && smoothing <= 1)) {
    throw new RangeError(`gradient2Limit: smoothing must be in (0, 1], got ${smoothing}`)
  }
  const tolerance = options.rttTolerance ?? 1.5
  if (!(tolerance >= 1)) {
    throw new RangeError(`gradient2Limit: rttTolerance must be >= 1, got ${tolerance}`)
  }
  const longWindow = Math.max(1, options.longWindow ?? 600)
  const queueSize = options.queueSize ?? (() => 4)
  // Netflix's ExpAvgMeasurement: a plain average over the first 10 samples, then an EMA.
  const warmup = 10
  let longRtt = 0
  let count = 0
  let estimate = bounds.initial
  const algo = {
    limit: Math.floor(estimate),
    onSample(s: LimitSample): void {
      const short = s.rttMs
      if (count < warmup) {
        count++
        longRtt += (short - longRtt) / count
      } else {
        const factor = 2 / (longWindow + 1)
        longRtt = longRtt * (1 - factor) + short * factor
      }
      if (short > 0 && longRtt / short > 2) longRtt *= 0.95
      if (s.inflight < estimate / 2) return
      const gradient = short > 0 ? clamp((tolerance * longRtt) / short, 0.5, 1) : 1
      const next = estimate * gradient + queueSize(estimate)
      estimate = clamp(estimate * (1 - smoothing) + next * smoothing, bounds.min, bounds.max)
      algo.limit = Math.floor(estimate)
    },
  }
  return algo
}
