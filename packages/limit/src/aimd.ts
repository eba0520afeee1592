import type { LimitAlgorithm, LimitBounds, LimitSample } from './algorithm.ts'
import { clamp, resolveBounds } from './algorithm.ts'

/** Options of `aimdLimit()`; Netflix's defaults. The bounds are on `LimitBounds`. */
export interface AimdLimitOptions extends LimitBounds {
  /** The limit is multiplied by this on a drop. @default 0.9 */
  backoffRatio?: number
  /** A call slower than this (ms) counts as a drop. @default 5000 */
  timeoutMs?: number
}

/**
 * Additive increase, multiplicative decrease, as in Netflix concurrency-limits: +1 per
 * successful call while at least half the limit is in use, ×`backoffRatio` on a drop (a
 * dropped call, or one slower than `timeoutMs`). Loss-based: it only backs off once
 * calls fail or time out, so pair it with a deadline; set `timeoutMs` to a latency you
 * will not accept to make it latency-aware.
 *
 * @param options bounds (initial 20, min 20, max 200: Netflix's), backoff ratio, timeout; see `AimdLimitOptions`
 * @returns the algorithm
 * @see https://github.com/Netflix/concurrency-limits (AIMDLimit.java)
 * @example
 * concurrencyLimit({ limit: aimdLimit({ minLimit: 2, timeoutMs: 50 }) })
 */
export function aimdLimit(options: AimdLimitOptions = {}): LimitAlgorithm {
  const bounds = resolveBounds(options, { initial: 20, min: 20, max: 200 }, 'aimdLimit')
  const backoff = options.backoffRatio ?? 0.9
  if (!(backoff >= 0.5 && backoff < 1)) {
    throw new RangeError(`aimdLimit: backoffRatio must be in [0.5, 1), got ${backoff}`)
  }
  const timeoutMs = options.timeoutMs ?? 5000
  let estimate = bounds.initial
  const algo = {
    limit: Math.floor(estimate),
    onSample(s: LimitSample): void {
      if (s.dropped || s.rttMs > timeoutMs) estimate *= backoff
      else if (s.inflight * 2 >= estimate) estimate += 1
      else return
      estimate = clamp(estimate, bounds.min, bounds.max)
      algo.limit = Math.floor(estimate)
    },
  }
  return algo
}
