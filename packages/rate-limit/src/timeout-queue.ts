import type { Clock, TimerHandle } from '@sturdy/core'

interface Entry {
  readonly at: number
  readonly reject: (error: unknown) => void
  done: boolean
}

/**
 * Bounds calls that all share one timeout with a single timer. Calls start in time
 * order and wait the same time, so they also expire in that order: the queue's head is
 * always the next to expire, and the timer only ever needs to wake for it. A call pays
 * a push and a flag, not a `setTimeout` + `clearTimeout` of its own.
 */
export class TimeoutQueue {
  readonly #clock: Clock
  readonly #ms: number
  readonly #error: () => unknown
  #entries: Entry[] = []
  #head = 0
  #live = 0
  #timer: TimerHandle | undefined

  /**
   * @param clock time source and timers
   * @param ms the timeout of every call
   * @param error builds the error a late call is rejected with
   */
  constructor(clock: Clock, ms: number, error: () => unknown) {
    this.#clock = clock
    this.#ms = ms
    this.#error = error
  }

  /** Settles like `promise`, or rejects with the timeout error if it takes longer. */
  race<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { at: this.#clock.now() + this.#ms, reject, done: false }
      this.#entries.push(entry)
      this.#live++
      if (this.#timer === undefined) this.#arm(this.#ms)
      promise.then(
        (value) => {
          if (this.#finish(entry)) resolve(value)
        },
        (error: unknown) => {
          if (this.#finish(entry)) reject(error)
        },
      )
    })
  }

  /** Calls still waiting. */
  get pending(): number {
    return this.#live
  }

  #finish(entry: Entry): boolean {
    if (entry.done) return false
    entry.done = true
    if (--this.#live === 0) {
      // Nothing left to bound: release the timer and the queue now, not at expiry.
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
      this.#timer = undefined
      this.#entries = []
      this.#head = 0
    }
    return true
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#expire(), Math.max(0, ms))
  }

  #expire(): void {
    this.#timer = undefined
    const now = this.#clock.now()
    const entries = this.#entries
    while (this.#head < entries.length) {
      const entry = entries[this.#head] as Entry
      if (!entry.done && entry.at > now) break
      this.#head++
      if (!entry.done) {
        entry.done = true
        this.#live--
        entry.reject(this.#error())
      }
    }
    if (this.#head >= entries.length) {
      this.#entries = []
      this.#head = 0
      return
    }
    if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head)
      this.#head = 0
    }
    this.#arm((this.#entries[this.#head] as Entry).at - now)
  }
}
