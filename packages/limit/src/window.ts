/**
 * A fixed-capacity buffer of latency samples with a median. One per algorithm, reused
 * window after window: recording a sample allocates nothing.
 */
export class SampleWindow {
  readonly #values: Float64Array
  #count = 0
  #next = 0

  constructor(capacity: number) {
    this.#values = new Float64Array(capacity)
  }

  /** Samples held (at most the capacity; the oldest are overwritten past it). */
  get count(): number {
    return this.#count
  }

  add(value: number): void {
    this.#values[this.#next] = value
    this.#next = (this.#next + 1) % this.#values.length
    if (this.#count < this.#values.length) this.#count++
  }

  /** The median of the samples held (NaN when empty). Reorders the buffer. */
  median(): number {
    if (this.#count === 0) return Number.NaN
    const held = this.#values.subarray(0, this.#count).sort()
    return held[(this.#count - 1) >> 1] as number
  }

  clear(): void {
    this.#count = 0
    this.#next = 0
  }
}
