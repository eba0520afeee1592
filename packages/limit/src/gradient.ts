import type { Random } from '@sturdy/core'
import { systemRandom } from '@sturdy/core'
import type { LimitAlgorithm, LimitBounds, LimitSample } from './algorithm.ts'
import { clamp, resolveBounds } from './algorithm.ts'
import { SampleWindow } from './window.ts'

/** Options of `gradientLimit()`. The bounds are on `LimitBounds`. */
export interface GradientLimitOptions extends LimitBounds {
  /**
   * How much slower than the minimum RTT the window's median may be before the limit
   * shrinks: the gradient is `tolerance × minRtt / medianRtt`. Lower holds latency
   * tighter and gives up some throughput (Envoy uses 1.25; 1.5 is Gradient2's tolerance,
   * and kept goodput above 90% of capacity in our overload benchmark).
   * @default 1.5
   */
  tolerance?: number
  /**
   * Growth allowed on top of the gradient, as a fraction of the limit: the new limit is
   * `limit × (gradient + headroom)`. It sets where the limit settles under overload:
   * where the median RTT is `tolerance / (1 − headroom)` × the minimum (about 1.7×).
   * @default 0.1
   */
  headroom?: number
  /**
   * How far the limit moves toward each new value: `limit += smoothing × (next − limit)`.
   * 1 jumps at once; smaller is steadier but slower to react.
   * @default 0.5
   */
  smoothing?: number
  /** Length of a sample window, in ms; the limit moves once per window. Envoy's interval. @default 100 */
  windowMs?: number
  /** Fewest samples a window needs before it closes (a quiet window stays open). @default 5 */
  minWindowSamples?: number
  /**
   * How often the minimum RTT is measured again, in ms (with ±`probeJitter`): the median
   * of the next `probeSamples` calls admitted at `probeLimit` or fewer in flight becomes
   * the new minimum. When such calls do not come by themselves and the limit is reached
   * (the service is overloaded), the limit is pinned to `probeLimit` until they do; when
   * the limit is not reached, the median of the calls seen stands in, but only where it
   * is lower than the known minimum (or none is known yet): measured at the concurrency
   * in flight, it would otherwise raise the minimum, then the limit, then the next
   * stand-in. Also happens at start, and
   * early when the limit sits at `minLimit` for 3 windows with latency still too high
   * (the service got slower for good). Only these measurements set the minimum: a
   * lucky quiet window must not lower it (on a noisy machine that ratchets the minimum
   * down and the limit with it).
   * @default 10000
   */
  probeIntervalMs?: number
  /** The concurrency during a minimum-RTT measurement. Envoy's `min_concurrency`. @default 3 (at least minLimit) */
  probeLimit?: number
  /** Calls measured per minimum-RTT measurement. Envoy's `request_count`. @default 50 */
  probeSamples?: number
  /** Random spread of `probeIntervalMs`, so a fleet does not probe at once. @default 0.15 */
  probeJitter?: number
  /** Random source for the jitter. @default systemRandom */
  random?: Random
  /**
   * Caps the limit, in windows where it is reached, at `throughputCap × peak throughput ×
   * minimum RTT`, rounded to the nearest whole number: the concurrency that keeps the
   * service as busy as it has been (the most calls finished per ms in any of the last 10
   * windows) at its unloaded latency, with `throughputCap` as headroom — BBR's window,
   * bandwidth × round-trip time. One such window in 8 the cap is a quarter higher, so a
   * service that can do more shows it.
   *
   * For handlers whose CPU runs on the event loop: the RTTs start at admission, so the
   * limit cannot see requests waiting for the busy loop to read them, and settles at about
   * twice the concurrency the loop can serve (`pnpm bench overload`: 9 in flight where 4
   * give the same goodput at half the latency). Leave it off for services whose
   * throughput keeps rising with concurrency past that point (proxies whose calls batch).
   * @default undefined (no cap)
   */
  throughputCap?: number
}

/**
 * A gradient concurrency limit anchored to the service's minimum latency, after Envoy's
 * adaptive concurrency filter: once per window, the median RTT of the window is compared
 * with the minimum RTT, and the limit becomes `limit × (gradient + headroom)` with
 * `gradient = clamp(tolerance × minRtt / medianRtt, 0.5, 2)`, smoothed. Under overload
 * the limit settles where latency is about 1.7× its minimum — near the concurrency that
 * keeps the service busy without queueing. The limit does not grow while fewer than
 * half of it are in use (nothing says it would be safe). The minimum RTT is measured
 * from calls admitted at low concurrency (pinning the limit low when the service is too
 * busy to yield them), at start and every `probeIntervalMs`, so while the limit is
 * reached it cannot creep up with the latency it is meant to bound (Vegas' and
 * Gradient2's weakness). While it is not reached, a probe takes the calls it saw in their
 * place only to lower the minimum, so it cannot creep up then either.
 *
 * The default algorithm of `concurrencyLimiter()` and `concurrencyLimit()`.
 *
 * @param options bounds (initial 20, min 1, max 1000) and tuning; see `GradientLimitOptions`
 * @returns the algorithm
 * @see https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/adaptive_concurrency_filter
 * @example
 * import { concurrencyLimit, gradientLimit } from '@sturdy/limit'
 * concurrencyLimit({ limit: gradientLimit({ minLimit: 2, maxLimit: 200 }) })
 */
export function gradientLimit(options: GradientLimitOptions = {}): LimitAlgorithm {
  return new GradientLimit(options)
}

class GradientLimit implements LimitAlgorithm {
  readonly #min: number
  readonly #max: number
  readonly #tolerance: number
  readonly #headroom: number
  readonly #smoothing: number
  readonly #windowMs: number
  readonly #minWindowSamples: number
  readonly #probeIntervalMs: number
  readonly #probeLimit: number
  readonly #probeSamples: number
  readonly #probeJitter: number
  readonly #random: Random
  readonly #window = new SampleWindow(256)
  #estimate: number
  #probing = true
  #minRtt = Number.NaN
  #windowStart = Number.NaN
  #windowMaxInflight = 0
  #nextProbeAt = Number.POSITIVE_INFINITY
  #windowsAtMin = 0
  #probeSeen = 0
  #probeSaturated = false
  readonly #probeOthers = new SampleWindow(256)
  readonly #throughputCap: number
  /** Calls finished per ms in each of the last windows (a ring). */
  readonly #rates = new Float64Array(RATE_WINDOWS)
  #rateNext = 0
  #ratesHeld = 0
  #windowCalls = 0
  #cappedWindows = 0
  /** The throughput cap of the last window (+Infinity: none). */
  #cap = Number.POSITIVE_INFINITY
  limit: number

  constructor(options: GradientLimitOptions) {
    const bounds = resolveBounds(options, { initial: 20, min: 1, max: 1000 }, 'gradientLimit')
    this.#min = bounds.min
    this.#max = bounds.max
    this.#tolerance = positive(options.tolerance ?? 1.5, 'tolerance')
    this.#headroom = nonNegative(options.headroom ?? 0.1, 'headroom')
    this.#smoothing = fraction(options.smoothing ?? 0.5, 'smoothing')
    this.#windowMs = nonNegative(options.windowMs ?? 100, 'windowMs')
    this.#minWindowSamples = Math.max(1, Math.floor(options.minWindowSamples ?? 5))
    this.#probeIntervalMs = positive(options.probeIntervalMs ?? 10_000, 'probeIntervalMs')
    this.#probeLimit = clamp(Math.floor(options.probeLimit ?? 3), this.#min, this.#max)
    this.#probeSamples = Math.max(1, Math.floor(options.probeSamples ?? 50))
    this.#probeJitter = clamp(options.probeJitter ?? 0.15, 0, 1)
    this.#random = options.random ?? systemRandom
    this.#throughputCap =
      options.throughputCap === undefined
        ? Number.NaN
        : positive(options.throughputCap, 'throughputCap')
    this.#estimate = bounds.initial
    // The first thing to learn is the minimum RTT (Envoy starts pinned; we pin only if
    // the calls at low concurrency it needs do not come by themselves).
    this.limit = Math.floor(bounds.initial)
  }

  onSample(s: LimitSample): void {
    if (this.#probing) {
      // Only calls admitted at low concurrency say what an unloaded call costs. A quiet
      // service yields them by itself; a busy one is pinned low until it does.
      if (s.inflight <= this.#probeLimit) this.#window.add(s.rttMs)
      else this.#probeOthers.add(s.rttMs)
      if (s.inflight >= this.limit) this.#probeSaturated = true
      if (this.#window.count >= this.#probeSamples) this.#endProbe(s.now, this.#window)
      else if (++this.#probeSeen >= this.#probeSamples && this.limit !== this.#probeLimit) {
        // No unloaded calls came by themselves. At the limit, pin it low to get them;
        // below it the limit binds nobody, so the calls seen (an over-estimate of the
        // minimum) will do until the next probe, where they do not raise a known one.
        if (this.#probeSaturated) this.limit = this.#probeLimit
        else this.#endProbe(s.now, this.#probeOthers, true)
      }
      return
    }
    if (s.now >= this.#nextProbeAt) {
      this.#startProbe()
      return
    }
    if (Number.isNaN(this.#windowStart)) this.#windowStart = s.now
    this.#window.add(s.rttMs)
    this.#windowCalls++
    if (s.inflight > this.#windowMaxInflight) this.#windowMaxInflight = s.inflight
    if (
      s.now - this.#windowStart >= this.#windowMs &&
      this.#window.count >= this.#minWindowSamples
    ) {
      this.#closeWindow(s.now)
    }
  }

  #closeWindow(now: number): void {
    const median = this.#window.median()
    const appLimited = this.#windowMaxInflight < this.#estimate / 2
    const reached = this.#windowMaxInflight >= this.limit
    this.#rates[this.#rateNext] = this.#windowCalls / Math.max(1, now - this.#windowStart)
    this.#rateNext = (this.#rateNext + 1) % RATE_WINDOWS
    if (this.#ratesHeld < RATE_WINDOWS) this.#ratesHeld++
    this.#windowCalls = 0
    this.#window.clear()
    this.#windowStart = now
    this.#windowMaxInflight = 0
    const gradient = clamp((this.#tolerance * this.#minRtt) / median, 0.5, 2)
    let next = this.#estimate * (gradient + this.#headroom)
    if (appLimited && next > this.#estimate) next = this.#estimate
    const estimate = clamp(
      this.#estimate + this.#smoothing * (next - this.#estimate),
      this.#min,
      this.#max,
    )
    this.#estimate = estimate
    // The cap bounds the limit, not the gradient's estimate: when the cap rises (more
    // throughput, or its probe), the limit follows at once, however the gradient read the
    // latency at the capped concurrency. Not before a few windows say what the service
    // can do (the first after start is short).
    this.#cap =
      reached && this.#throughputCap > 0 && this.#ratesHeld >= 3
        ? this.#throughputCapNow()
        : Number.POSITIVE_INFINITY
    this.limit = Math.floor(Math.min(estimate, this.#cap))
    // Pinned at the floor with latency still too high: the minimum RTT is stale.
    this.#windowsAtMin = this.limit <= this.#min && gradient < 1 ? this.#windowsAtMin + 1 : 0
    if (this.#windowsAtMin >= 3) this.#startProbe()
  }

  /**
   * The throughput cap now (a quarter higher one window in 8), rounded to the nearest
   * whole number, at least the floor. Rounded, not floored: near a boundary (3.9 on the
   * bench) the noise of the minimum RTT would otherwise drop the limit a whole step.
   */
  #throughputCapNow(): number {
    let peak = 0
    for (const rate of this.#rates) if (rate > peak) peak = rate
    const probing = ++this.#cappedWindows % 8 === 0
    const cap = Math.round(this.#throughputCap * (probing ? 1.25 : 1) * peak * this.#minRtt)
    return Math.max(this.#min, cap)
  }

  #startProbe(): void {
    this.#probing = true
    this.#probeSeen = 0
    this.#probeSaturated = false
    this.#probeOthers.clear()
    this.#windowsAtMin = 0
    this.#window.clear()
  }

  /**
   * Ends a measurement of the minimum RTT. A stand-in (the calls seen at more than
   * `probeLimit` in flight, the limit not reached) may lower a known minimum but never
   * raise it: below the limit, latency measured at the concurrency that is in flight
   * would let the limit grow, and the next stand-in with it, until the limit is twice
   * whatever caps the calls in front of it (a proxy's or a client's connections), where
   * it protects nothing. A service that got slower for good is re-measured once the
   * limit, shrinking on the stale minimum, is reached and a probe is pinned.
   */
  #endProbe(now: number, measured: SampleWindow, standIn = false): void {
    const median = measured.median()
    this.#minRtt = standIn && this.#minRtt < median ? this.#minRtt : median
    this.#window.clear()
    this.#probeOthers.clear()
    this.#probing = false
    this.#windowStart = now
    this.#windowMaxInflight = 0
    this.#windowCalls = 0
    this.limit = Math.floor(Math.min(this.#estimate, this.#cap))
    const spread = 1 + this.#probeJitter * (2 * this.#random() - 1)
    this.#nextProbeAt = now + this.#probeIntervalMs * spread
  }
}

/** Windows whose throughput the cap's peak is taken over (a second at the default 100 ms). */
const RATE_WINDOWS = 10

function positive(x: number, name: string): number {
  if (!(x > 0)) throw new RangeError(`gradientLimit: ${name} must be > 0, got ${x}`)
  return x
}

function nonNegative(x: number, name: string): number {
  if (!(x >= 0)) throw new RangeError(`gradientLimit: ${name} must be >= 0, got ${x}`)
  return x
}

function fraction(x: number, name: string): number {
  if (!(x > 0 && x <= 1)) throw new RangeError(`gradientLimit: ${name} must be in (0, 1], got ${x}`)
  return x
}
