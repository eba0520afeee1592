import type { Random } from '@sturdy/core'
import { systemRandom } from '@sturdy/core'
import type { LimitAlgorithm, LimitBounds, LimitSample } from './algorithm.ts'
import { clamp, resolveBounds } from './algorithm.ts'

/** Options of `vegasLimit()`; Netflix's defaults. The bounds are on `LimitBounds`. */
export interface VegasLimitOptions extends LimitBounds {
  /** How far the limit moves toward each new value (1: at once). @default 1 */
  smoothing?: number
  /** The no-load RTT is re-taken every `probeMultiplier × limit` samples (± jitter). @default 30 */
  probeMultiplier?: number
  /** Random source for the probe jitter. @default systemRandom */
  random?: Random
}

/**
 * TCP Vegas applied to concurrency, as in Netflix concurrency-limits (its default
 * algorithm): the queue is estimated per sample as `limit × (1 − rttNoLoad / rtt)`; below
 * `log10(limit)` the limit grows by `6·log10(limit)`, below `α = 3·log10(limit)` by
 * `log10(limit)`, above `β = 6·log10(limit)` (or on a drop) it shrinks by `log10(limit)`.
 * The no-load RTT is the smallest seen since the last probe; probes reset it every
 * `probeMultiplier × limit` samples. No growth while fewer than half the limit are in use.
 *
 * It tolerates a queue of α–β calls, so at small limits latency may reach several
 * times the no-load RTT before it backs off; `gradientLimit()` holds latency tighter.
 *
 * @param options bounds (initial 20, min 1, max 1000), smoothing, probe; see `VegasLimitOptions`
 * @returns the algorithm
 * @see https://github.com/Netflix/concurrency-limits (VegasLimit.java)
 * @example
 * concurrencyLimit({ limit: vegasLimit({ maxLimit: 200 }) })
 */
export function vegasLimit(options: VegasLimitOptions = {}): LimitAlgorithm {
  return new VegasLimit(options)
}

class VegasLimit implements LimitAlgorithm {
  readonly #min: number
  readonly #max: number
  readonly #smoothing: number
  readonly #probeMultiplier: number
  readonly #random: Random
  #estimate: number
  #rttNoLoad = 0
  #probeCount = 0
  #probeJitter: number
  limit: number

  constructor(options: VegasLimitOptions) {
    const bounds = resolveBounds(options, { initial: 20, min: 1, max: 1000 }, 'vegasLimit')
    this.#min = bounds.min
    this.#max = bounds.max
    const smoothing = options.smoothing ?? 1
    if (!(smoothing > 0 && smoothing <= 1)) {
      throw new RangeError(`vegasLimit: smoothing must be in (0, 1], got ${smoothing}`)
    }
    this.#smoothing = smoothing
    this.#probeMultiplier = Math.max(1, options.probeMultiplier ?? 30)
    this.#random = options.random ?? systemRandom
    this.#probeJitter = this.#jitter()
    this.#estimate = bounds.initial
    this.limit = Math.floor(bounds.initial)
  }

  onSample(s: LimitSample): void {
    this.#probeCount++
    if (this.#probeJitter * this.#probeMultiplier * this.#estimate <= this.#probeCount) {
      this.#probeJitter = this.#jitter()
      this.#probeCount = 0
      this.#rttNoLoad = s.rttMs
      return
    }
    if (this.#rttNoLoad === 0 || s.rttMs < this.#rttNoLoad) {
      this.#rttNoLoad = s.rttMs
      return
    }
    const current = this.#estimate
    // log10(1) = 0 would freeze a limit of 1; count it as 2.
    const log = Math.log10(Math.max(2, current))
    let next: number
    if (s.dropped) {
      next = current - log
    } else if (s.inflight * 2 < current) {
      return // app-limited: nothing says more would be safe
    } else {
      const queue = Math.ceil(current * (1 - this.#rttNoLoad / s.rttMs))
      if (queue <= log) next = current + 6 * log
      else if (queue < 3 * log) next = current + log
      else if (queue > 6 * log) next = current - log
      else return
    }
    next = clamp(next, this.#min, this.#max)
    this.#estimate = clamp(
      (1 - this.#smoothing) * current + this.#smoothing * next,
      this.#min,
      this.#max,
    )
    this.limit = Math.floor(this.#estimate)
  }

  #jitter(): number {
    return 0.5 + this.#random() * 0.5
  }
}
