import type {
  Clock,
  Emitter,
  Events,
  LimitEventMap,
  LimitStats,
  Policy,
  PolicyFn,
  Random,
} from '@sturdy/core'
import {
  createEmitter,
  lowerStackLimit,
  neverAborts,
  restoreStackLimit,
  systemClock,
  systemRandom,
} from '@sturdy/core'
import { ThrottledError } from './errors.ts'
import { isOverloadSignal } from './overload-signal.ts'

/** Options of `adaptiveThrottle()`. */
export interface AdaptiveThrottleOptions {
  /** Name reported in events, metrics and errors (the backend, e.g. its origin). @default 'throttle' */
  name?: string
  /**
   * How many requests per accepted one the backend may be sent before local rejection
   * starts: `p = max(0, (requests − k·accepts) / (requests + 1))`. Lower is more
   * aggressive; 2 is the SRE book's default.
   * @default 2
   */
  k?: number
  /** The window requests and accepts are counted over, in ms. @default 120000 */
  windowMs?: number
  /** Buckets the window rolls over in (the counts age out bucket by bucket). @default 12 */
  buckets?: number
  /**
   * Whether the backend rejected the call: its error or its result (a fetch `Response`).
   * Rejections count as requests but not accepts.
   * @default a TimeoutError, or a status of 429 or 503 on the error or the result
   */
  isRejected?: (errorOrResult: unknown) => boolean
  /** Time source for the window. @default systemClock */
  clock?: Clock
  /** Random source for the rejection draw. @default systemRandom */
  random?: Random
}

/** A client-side adaptive throttle: a core `Policy`, observable. */
export interface AdaptiveThrottle extends Policy {
  readonly kind: 'limit'
  readonly name: string
  readonly events: Events<LimitEventMap>
  /** The probability with which calls are rejected locally right now. */
  probability(): number
  /** Requests and accepts counted in the window now. */
  counts(): { requests: number; accepts: number }
  /** `{ limit: Infinity, inflight, queued: 0 }`, for observers. */
  readonly stats: () => LimitStats
}

/**
 * Google SRE's client-side adaptive throttling, per backend: over the last `windowMs`,
 * count the requests sent and the ones the backend accepted; when requests exceed
 * `k × accepts`, reject new calls locally (without sending them) with probability
 * `max(0, (requests − k·accepts) / (requests + 1))`, throwing a `ThrottledError`. Local
 * rejections count as requests, so a backend that keeps refusing is sent less and less,
 * and one that recovers is sent more as accepts come back. Use one per backend (origin).
 *
 * @param options see `AdaptiveThrottleOptions`
 * @returns the throttle
 * @see https://sre.google/sre-book/handling-overload/
 * @example
 * import { compose } from '@sturdy/core'
 * import { adaptiveThrottle } from '@sturdy/limit'
 * import { retry } from '@sturdy/retry'
 *
 * const orders = compose(retry(), adaptiveThrottle({ name: 'orders' }))
 * await orders.execute(({ signal }) => fetch('http://127.0.0.1:9000/orders', { signal }))
 */
export function adaptiveThrottle(options: AdaptiveThrottleOptions = {}): AdaptiveThrottle {
  return new Throttle(options)
}

class Throttle implements AdaptiveThrottle {
  readonly kind = 'limit' as const
  readonly name: string
  readonly #events: Emitter<LimitEventMap> = createEmitter<LimitEventMap>()
  readonly #k: number
  readonly #bucketMs: number
  readonly #requests: Float64Array
  readonly #accepts: Float64Array
  readonly #isRejected: (value: unknown) => boolean
  readonly #clock: Clock
  readonly #random: Random
  readonly #shedPayload: LimitEventMap['shed']
  /** Index of the bucket `#bucketAt` belongs to. */
  #current = 0
  #bucketAt = Number.NaN
  #inflight = 0

  constructor(options: AdaptiveThrottleOptions) {
    this.name = options.name ?? 'throttle'
    this.#k = options.k ?? 2
    if (!(this.#k > 0)) throw new RangeError(`k must be > 0, got ${this.#k}`)
    const windowMs = options.windowMs ?? 120_000
    const buckets = Math.max(1, Math.floor(options.buckets ?? 12))
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${windowMs}`)
    this.#bucketMs = windowMs / buckets
    this.#requests = new Float64Array(buckets)
    this.#accepts = new Float64Array(buckets)
    this.#isRejected = options.isRejected ?? isOverloadSignal
    this.#clock = options.clock ?? systemClock
    this.#random = options.random ?? systemRandom
    this.#shedPayload = Object.freeze({ name: this.name, reason: 'throttled', priority: 'normal' })
  }

  get events(): Events<LimitEventMap> {
    return this.#events
  }

  probability(): number {
    this.#roll()
    const { requests, accepts } = this.#sums()
    return Math.max(0, (requests - this.#k * accepts) / (requests + 1))
  }

  counts(): { requests: number; accepts: number } {
    this.#roll()
    return this.#sums()
  }

  /** A bound function: observers may call it detached. */
  readonly stats: () => LimitStats = () => ({
    limit: Number.POSITIVE_INFINITY,
    inflight: this.#inflight,
    queued: 0,
  })

  async execute<T>(fn: PolicyFn<T>, signal: AbortSignal = neverAborts(), attempt = 1): Promise<T> {
    const p = this.probability()
    this.#requests[this.#current] = (this.#requests[this.#current] as number) + 1
    if (p > 0 && this.#random() < p) {
      if (this.#events.has('shed')) this.#events.emit('shed', this.#shedPayload)
      // Stack frames: execute and execute's caller.
      const previous = lowerStackLimit(2)
      try {
        throw new ThrottledError(this.name, p)
      } finally {
        restoreStackLimit(previous)
      }
    }
    this.#inflight++
    let accepted: boolean
    try {
      const result = await fn({ signal, attempt })
      accepted = !this.#isRejected(result)
      this.#settle(accepted)
      return result
    } catch (error) {
      // A deadline that ran out (the backend too slow) is a rejection; a caller that went
      // away says nothing about the backend, whatever error the abort surfaced as.
      accepted = signal.aborted ? !this.#isRejected(signal.reason) : !this.#isRejected(error)
      this.#settle(accepted)
      throw error
    }
  }

  #settle(accepted: boolean): void {
    this.#inflight--
    this.#roll()
    if (accepted) this.#accepts[this.#current] = (this.#accepts[this.#current] as number) + 1
  }

  /** Moves to the bucket of now, clearing the buckets that aged out. */
  #roll(): void {
    const now = this.#clock.now()
    if (Number.isNaN(this.#bucketAt)) {
      this.#bucketAt = now
      return
    }
    const steps = Math.floor((now - this.#bucketAt) / this.#bucketMs)
    if (steps <= 0) return
    const n = this.#requests.length
    for (let i = 1; i <= Math.min(steps, n); i++) {
      const j = (this.#current + i) % n
      this.#requests[j] = 0
      this.#accepts[j] = 0
    }
    this.#current = (this.#current + steps) % n
    this.#bucketAt += steps * this.#bucketMs
  }

  #sums(): { requests: number; accepts: number } {
    let requests = 0
    let accepts = 0
    for (let i = 0; i < this.#requests.length; i++) {
      requests += this.#requests[i] as number
      accepts += this.#accepts[i] as number
    }
    return { requests, accepts }
  }
}
