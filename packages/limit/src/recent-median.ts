/**
 * The median of the last 64 latencies, recomputed every 8 samples: the "recent p50" a
 * deadline is compared with. Reading it is a field access and a comparison, so the shed
 * check on the hot path costs nothing; recording a sample allocates nothing. A median
 * with no new sample for `staleMs` is forgotten: requests shed on their deadline add no
 * sample, so a p50 from a bad spell would otherwise shed every later request forever.
 */
export class RecentMedian {
  readonly #ring = new Float64Array(64)
  readonly #scratch = new Float64Array(64)
  #count = 0
  #next = 0
  #sinceUpdate = 0
  #lastAt = Number.NEGATIVE_INFINITY
  /** The median, or NaN until `minSamples` have been seen. */
  value: number = Number.NaN

  constructor(
    readonly minSamples: number,
    readonly staleMs: number,
  ) {}

  /** The median at `now`: NaN until `minSamples`, and again once `staleMs` pass without a sample. */
  at(now: number): number {
    if (now - this.#lastAt > this.staleMs && this.#count > 0) {
      this.#count = 0
      this.#next = 0
      this.#sinceUpdate = 0
      this.value = Number.NaN
    }
    return this.value
  }

  add(ms: number, now: number): void {
    this.#lastAt = now
    this.#ring[this.#next] = ms
    this.#next = (this.#next + 1) & 63
    if (this.#count < 64) this.#count++
    if (this.#count < this.minSamples) return
    // The first median as soon as there are enough samples, then every 8th sample.
    if (!Number.isNaN(this.value) && ++this.#sinceUpdate < 8) return
    this.#sinceUpdate = 0
    const held = this.#scratch.subarray(0, this.#count)
    held.set(this.#ring.subarray(0, this.#count))
    held.sort()
    this.value = held[(this.#count - 1) >> 1] as number
  }
}
