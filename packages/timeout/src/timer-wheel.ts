import type { Clock, TimerHandle } from '@sturdy/core'
import { systemClock } from '@sturdy/core'

/** Options of `timerWheel()`. */
export interface TimerWheelOptions {
  /**
   * Time source; its `setTimeout` arms the wheel's single platform timer.
   * @default systemClock
   */
  clock?: Clock
  /**
   * Tick size in ms. Deadlines are rounded up to a tick, so a deadline fires at most
   * this late (plus event-loop lag) and never early. Deadlines that share a tick share
   * one bucket.
   * @default 5
   */
  resolutionMs?: number
}

/** A deadline scheduled on a wheel. */
export interface WheelTimer {
  /** Removes the deadline; its callback will not run. Idempotent, O(1). */
  cancel(): void
}

/**
 * Many deadlines on one armed platform timer. The deadline middleware and the timeout
 * policy schedule every request/call here instead of calling `setTimeout` each time.
 */
export interface TimerWheel {
  /** The clock the wheel runs on; deadlines passed to `schedule` use its scale. */
  readonly clock: Clock
  /** Tick size in ms. */
  readonly resolutionMs: number
  /** Deadlines scheduled and neither fired nor cancelled. */
  readonly size: number
  /**
   * Runs `fn` once the clock reaches `at` (absolute, on `clock`'s scale), rounded up to
   * the next tick. A deadline already past fires on the next timer turn, never inline.
   */
  schedule(at: number, fn: (() => void) | WheelTarget): WheelTimer
}

/**
 * What a deadline runs, as an object: a per-call state object can be its own target
 * instead of allocating a callback closure for each deadline it schedules.
 */
export interface WheelTarget {
  /** Called once, when the deadline passes. */
  onDeadline(): void
}

/**
 * Creates a shared coarse timer wheel: any number of deadlines, at most one platform
 * timer armed (through `clock.setTimeout`), for the earliest tick that holds a live
 * deadline.
 *
 * Why not a `setTimeout` per request: one `setTimeout` + `clearTimeout` costs about 20%
 * of a bare server's throughput (DESIGN.md §7). Here scheduling is a Map lookup and a
 * linked-list append, and cancelling is an unlink. The platform timer is re-armed only
 * when a deadline lands on an earlier tick than the armed one (rare: with one budget,
 * new deadlines are always later). Cancelled deadlines leave their bucket behind until
 * its tick passes; when the armed timer fires and no live deadline remains, the wheel
 * arms nothing, so an idle wheel holds no timer.
 *
 * @param options see `TimerWheelOptions`
 * @returns a wheel; pass it as the `wheel` option of `timeout()` and `deadline()` to share it
 * @example
 * import { deadline, timeout, timerWheel } from '@sturdy/timeout'
 *
 * const wheel = timerWheel({ resolutionMs: 10 })
 * const perCall = timeout(500, { wheel })
 * const perRequest = deadline({ budgetMs: 2000, wheel })
 */
export function timerWheel(options: TimerWheelOptions = {}): TimerWheel {
  const resolutionMs = options.resolutionMs ?? 5
  if (!(resolutionMs > 0) || !Number.isFinite(resolutionMs)) {
    throw new RangeError(`resolutionMs must be a positive finite number, got ${resolutionMs}`)
  }
  return new Wheel(options.clock ?? systemClock, resolutionMs)
}

class Entry implements WheelTimer {
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined
  bucket: Bucket | undefined
  readonly fn: (() => void) | WheelTarget
  readonly wheel: Wheel

  constructor(fn: (() => void) | WheelTarget, bucket: Bucket, wheel: Wheel) {
    this.fn = fn
    this.bucket = bucket
    this.wheel = wheel
  }

  cancel(): void {
    if (this.bucket === undefined) return
    this.bucket.unlink(this)
    this.wheel.live--
  }
}

/** The deadlines of one tick, as an intrusive doubly linked list (O(1) unlink). */
class Bucket {
  head: Entry | undefined = undefined
  tail: Entry | undefined = undefined
  count = 0

  append(entry: Entry): void {
    entry.prev = this.tail
    if (this.tail === undefined) this.head = entry
    else this.tail.next = entry
    this.tail = entry
    this.count++
  }

  unlink(entry: Entry): void {
    if (entry.prev === undefined) this.head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = undefined
    entry.next = undefined
    entry.bucket = undefined
    this.count--
  }
}

class Wheel implements TimerWheel {
  readonly clock: Clock
  readonly resolutionMs: number
  /** Live (scheduled, not fired, not cancelled) deadlines. */
  live = 0
  readonly #buckets = new Map<number, Bucket>()
  /** Min-heap of the ticks that have a bucket in `#buckets` (each tick once). */
  readonly #ticks: number[] = []
  #armedTick = Number.POSITIVE_INFINITY
  #handle: TimerHandle | undefined
  #firing = false
  /** The bucket `schedule` used last, while it is still in `#buckets`. */
  #lastTick = Number.NaN
  #lastBucket: Bucket | undefined
  readonly #onTimer = (): void => this.#fire()

  constructor(clock: Clock, resolutionMs: number) {
    this.clock = clock
    this.resolutionMs = resolutionMs
  }

  get size(): number {
    return this.live
  }

  schedule(at: number, fn: (() => void) | WheelTarget): WheelTimer {
    // Round up: a deadline may fire up to one tick late, never early.
    const tick = Math.ceil(at / this.resolutionMs)
    // Calls that start together mostly share a tick: skip the map for a repeat.
    let bucket = tick === this.#lastTick ? this.#lastBucket : this.#buckets.get(tick)
    if (bucket === undefined) {
      bucket = new Bucket()
      this.#buckets.set(tick, bucket)
      heapPush(this.#ticks, tick)
    }
    this.#lastTick = tick
    this.#lastBucket = bucket
    const entry = new Entry(fn, bucket, this)
    bucket.append(entry)
    this.live++
    // While firing, #fire re-arms once at the end for whatever is left.
    if (!this.#firing && tick < this.#armedTick) this.#arm(tick)
    return entry
  }

  #arm(tick: number): void {
    if (this.#handle !== undefined) this.clock.clearTimeout(this.#handle)
    this.#armedTick = tick
    this.#handle = this.clock.setTimeout(
      this.#onTimer,
      Math.max(0, tick * this.resolutionMs - this.clock.now()),
    )
  }

  #drop(tick: number): void {
    this.#buckets.delete(tick)
    if (tick === this.#lastTick) {
      this.#lastTick = Number.NaN
      this.#lastBucket = undefined
    }
  }

  #fire(): void {
    this.#handle = undefined
    this.#armedTick = Number.POSITIVE_INFINITY
    this.#firing = true
    const ticks = this.#ticks
    let failed = false
    let failure: unknown
    try {
      const nowTick = Math.floor(this.clock.now() / this.resolutionMs)
      while (ticks.length > 0 && (ticks[0] as number) <= nowTick) {
        const tick = heapPop(ticks)
        const bucket = this.#buckets.get(tick)
        this.#drop(tick)
        if (bucket === undefined) continue
        for (let entry = bucket.head; entry !== undefined; entry = bucket.head) {
          bucket.unlink(entry)
          this.live--
          try {
            const fn = entry.fn
            if (typeof fn === 'function') fn()
            else fn.onDeadline()
          } catch (error) {
            // One throwing callback must not strand the deadlines after it; the first
            // error is rethrown once the wheel is consistent again, like a timer would.
            if (!failed) {
              failed = true
              failure = error
            }
          }
        }
      }
      // Drop buckets emptied by cancellation, so the timer is armed only for a live tick
      // (and not at all once the wheel is idle).
      while (ticks.length > 0) {
        const tick = ticks[0] as number
        const bucket = this.#buckets.get(tick)
        if (bucket !== undefined && bucket.count > 0) {
          this.#arm(tick)
          break
        }
        heapPop(ticks)
        this.#drop(tick)
      }
    } finally {
      this.#firing = false
    }
    if (failed) throw failure
  }
}

function heapPush(heap: number[], value: number): void {
  let i = heap.length
  heap.push(value)
  while (i > 0) {
    const parent = (i - 1) >> 1
    if ((heap[parent] as number) <= value) break
    heap[i] = heap[parent] as number
    i = parent
  }
  heap[i] = value
}

function heapPop(heap: number[]): number {
  const top = heap[0] as number
  const last = heap.pop() as number
  const n = heap.length
  if (n === 0) return top
  let i = 0
  for (;;) {
    const left = 2 * i + 1
    if (left >= n) break
    const right = left + 1
    const child = right < n && (heap[right] as number) < (heap[left] as number) ? right : left
    if ((heap[child] as number) >= last) break
    heap[i] = heap[child] as number
    i = child
  }
  heap[i] = last
  return top
}
