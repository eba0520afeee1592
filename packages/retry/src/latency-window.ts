/**
 * Recent latencies per key and a percentile of them: what `hedge({ percentile })` waits
 * before sending a hedge. Bounded by construction: a fixed ring of samples per key and a
 * fixed number of keys.
 */
export class LatencyWindow {
  readonly #samples: Float64Array
  readonly #sorted: Float64Array
  readonly #percentile: number
  readonly #minSamples: number
  readonly #recomputeEvery: number
  #count = 0
  #next = 0
  #sinceRecompute = 0
  #cached: number | undefined

  /**
   * @param size samples kept (the most recent ones)
   * @param percentile in (0, 100)
   * @param minSamples samples needed before `value()` answers
   */
  constructor(size: number, percentile: number, minSamples: number) {
    this.#samples = new Float64Array(size)
    this.#sorted = new Float64Array(size)
    this.#percentile = percentile
    this.#minSamples = Math.min(minSamples, size)
    // Sorting the window on every call would cost O(n log n) per request; re-sorting after
    // every 1/16 of the window is refreshed keeps the estimate current at a fraction of it.
    this.#recomputeEvery = Math.max(1, size >> 4)
  }

  /** Adds one latency (ms); NaN and negative values are ignored. */
  record(ms: number): void {
    if (!(ms >= 0)) return
    this.#samples[this.#next] = ms
    this.#next = (this.#next + 1) % this.#samples.length
    if (this.#count < this.#samples.length) this.#count++
    this.#sinceRecompute++
  }

  /** The percentile of the window (nearest rank), or undefined before `minSamples`. */
  value(): number | undefined {
    const n = this.#count
    if (n < this.#minSamples || n === 0) return undefined
    if (this.#cached === undefined || this.#sinceRecompute >= this.#recomputeEvery) {
      const sorted = this.#sorted.subarray(0, n)
      sorted.set(this.#samples.subarray(0, n))
      sorted.sort()
      const rank = Math.min(n, Math.max(1, Math.ceil((this.#percentile / 100) * n)))
      this.#cached = sorted[rank - 1] as number
      this.#sinceRecompute = 0
    }
    return this.#cached
  }
}

/**
 * One value per key, at most `maxKeys` of them; the oldest key is dropped first (FIFO),
 * so a caller that keys by something unbounded costs bounded memory.
 */
export class BoundedKeys<V> {
  readonly #map = new Map<string, V>()
  readonly #max: number
  readonly #make: (key: string) => V

  constructor(max: number, make: (key: string) => V) {
    this.#max = max
    this.#make = make
  }

  get(key: string): V {
    let value = this.#map.get(key)
    if (value === undefined) {
      if (this.#map.size >= this.#max) {
        const oldest = this.#map.keys().next()
        if (oldest.done !== true) this.#map.delete(oldest.value)
      }
      value = this.#make(key)
      this.#map.set(key, value)
    }
    return value
  }

  get size(): number {
    return this.#map.size
  }
}
