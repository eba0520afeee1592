import type {
  Clock,
  Emitter,
  Events,
  LimitEventMap,
  LimitPriority,
  LimitStats,
  Policy,
  PolicyFn,
  ShedReason,
  TimerHandle,
} from '@sturdy/core'
import {
  abortKind,
  createEmitter,
  lowerStackLimit,
  neverAborts,
  restoreStackLimit,
  systemClock,
} from '@sturdy/core'
import type { LimitAlgorithm } from './algorithm.ts'
import { fixedLimit } from './algorithm.ts'
import { OverloadedError } from './errors.ts'
import { gradientLimit } from './gradient.ts'
import { isOverloadSignal } from './overload-signal.ts'

/** Options of `concurrencyLimiter()`. */
export interface ConcurrencyLimiterOptions {
  /** Name reported in events, metrics and errors. @default 'limit' */
  name?: string
  /**
   * The concurrency limit: a number for a fixed bulkhead, or an algorithm that adapts
   * it from observed latency (`gradientLimit()`, `vegasLimit()`, `gradient2Limit()`,
   * `aimdLimit()`, or your own `LimitAlgorithm`).
   * @default gradientLimit()
   */
  limit?: number | LimitAlgorithm
  /**
   * Work that may wait for a slot when the limit is reached; more is refused at once
   * (`queue-full`). 0 refuses at once, which is what load shedding wants: a queue only
   * adds latency to an overloaded service. Higher priorities are served first, and a
   * full queue makes room for a higher priority by refusing the newest lowest one.
   * @default 0
   */
  maxQueue?: number
  /** How long work may wait in the queue before it is refused (`queue-timeout`), in ms. @default 1000 */
  queueTimeoutMs?: number
  /**
   * The fraction of the limit each priority may fill: work of a priority is admitted
   * while in-flight work is below `limit × share`. So `sheddable` work is refused first
   * as load rises, and `normal` and `critical` keep the rest.
   * @default { critical: 1, normal: 1, sheddable: 0.5 }
   */
  shares?: Partial<Record<LimitPriority, number>>
  /** The retry hint refused work carries (`OverloadedError.retryAfterMs`, `Retry-After`). @default 1000 */
  retryAfterMs?: number
  /**
   * For `execute()`: which errors mean "too much load" (fed to the algorithm as drops).
   * @default a TimeoutError, or an error or result with status 429 or 503
   */
  isDropped?: (error: unknown) => boolean
  /** Time source for RTTs and queue timeouts. @default systemClock */
  clock?: Clock
}

/** Why `admit()` refused work at once: the limit with no queue, or a full queue. */
export type ImmediateRefusal = Extract<ShedReason, 'limit' | 'queue-full'>

/** A slot held by admitted work. */
export interface LimitPermit {
  /**
   * Frees the slot and feeds the work's RTT to the algorithm: `success` (the default),
   * `dropped` (it failed from overload), or `ignore` (say nothing: the caller went away).
   * Calling it again does nothing.
   */
  release(outcome?: 'success' | 'dropped' | 'ignore'): void
}

/** A concurrency limiter: a core `Policy`, observable, with a two-step API for middleware. */
export interface ConcurrencyLimiter extends Policy {
  readonly kind: 'limit'
  readonly name: string
  readonly events: Events<LimitEventMap>
  /** The limiter's clock (RTTs are measured on it). */
  readonly clock: Clock
  /** The concurrency limit now. */
  readonly limit: number
  /** Admitted work not yet released. */
  readonly inflight: number
  /** Work waiting in the queue. */
  readonly queued: number
  /** The most work that may wait (0: none, refused at once). */
  readonly maxQueue: number
  /** `{ limit, inflight, queued }`, for observers. */
  readonly stats: () => LimitStats
  /**
   * Admits work now or refuses it (emitting `shed` with reason `limit`); never queues.
   * Allocates nothing when it refuses.
   */
  tryAcquire(priority?: LimitPriority): LimitPermit | undefined
  /**
   * `acquire()` for hot paths such as a middleware: a permit when the work is admitted
   * at once; the reason (`limit`, `queue-full`) when it is refused at once, with `shed`
   * emitted and no error or promise made; else a promise of the permit, the work queued
   * (rejected like `acquire()`'s: timed out, evicted, or aborted). Under overload most
   * work is refused, and an `OverloadedError` with its stack and a rejected promise cost
   * more than the refusal itself.
   */
  admit(
    priority?: LimitPriority,
    signal?: AbortSignal | (() => AbortSignal | undefined),
  ): LimitPermit | Promise<LimitPermit> | ImmediateRefusal
  /**
   * Admits work now, or queues it (see `maxQueue`); rejects with an `OverloadedError`
   * when refused, or with the signal's reason when `signal` aborts while it waits.
   * `signal` may be a function returning it, called only when the work waits (a
   * middleware need not make a request's signal for work admitted or refused at once).
   */
  acquire(
    priority?: LimitPriority,
    signal?: AbortSignal | (() => AbortSignal | undefined),
  ): Promise<LimitPermit>
}

const PRIORITIES: readonly LimitPriority[] = ['critical', 'normal', 'sheddable']
/**
 * Frames of a refusal's stack (core's `lowerStackLimit`): the limiter's refusing method and
 * the one that called it (`execute`, or a queue's timer or eviction), and the caller's
 * frame. Under overload refusals are most calls, and a full stack was most of the cost
 * of one.
 */
const REFUSAL_FRAMES = 3

/**
 * A concurrency limiter: at most `limit` calls at once, the limit fixed (a bulkhead) or
 * adapted from observed latency (`gradientLimit()` by default), with an optional bounded,
 * priority-ordered queue with a wait timeout that drops waiters whose caller gave up.
 * As a `Policy` it guards outgoing calls (a client-side limit per origin); the
 * `concurrencyLimit()` middleware uses the same limiter to shed server load.
 *
 * @param options see `ConcurrencyLimiterOptions`
 * @returns the limiter
 * @example
 * import { concurrencyLimiter, isOverloadedError } from '@sturdy/limit'
 *
 * const inventory = concurrencyLimiter({ name: 'inventory', limit: 32, maxQueue: 64, queueTimeoutMs: 200 })
 * try {
 *   await inventory.execute(({ signal }) => fetch('http://127.0.0.1:9000/stock', { signal }))
 * } catch (error) {
 *   if (isOverloadedError(error)) {
 *     // refused without calling: error.reason, error.retryAfterMs
 *   }
 * }
 */
export function concurrencyLimiter(options: ConcurrencyLimiterOptions = {}): ConcurrencyLimiter {
  return new Limiter(options)
}

interface Waiter {
  readonly priority: LimitPriority
  readonly resolve: (permit: LimitPermit) => void
  readonly reject: (error: unknown) => void
  timer: TimerHandle | undefined
  unsubscribe: (() => void) | undefined
}

class Limiter implements ConcurrencyLimiter {
  readonly kind = 'limit' as const
  readonly name: string
  readonly clock: Clock
  readonly #events: Emitter<LimitEventMap> = createEmitter<LimitEventMap>()
  readonly #algorithm: LimitAlgorithm
  readonly #maxQueue: number
  readonly #queueTimeoutMs: number
  readonly #shares: Readonly<Record<LimitPriority, number>>
  /** The smallest share: below `limit × minShare` in flight, every priority is admissible. */
  readonly #minShare: number
  readonly #retryAfterMs: number
  readonly #isDropped: (error: unknown) => boolean
  readonly #queues: Record<LimitPriority, Waiter[]> = { critical: [], normal: [], sheddable: [] }
  readonly #shedPayloads = new Map<string, LimitEventMap['shed']>()
  #inflight = 0
  #queued = 0
  #limit: number

  constructor(options: ConcurrencyLimiterOptions) {
    this.name = options.name ?? 'limit'
    this.clock = options.clock ?? systemClock
    const limit = options.limit ?? gradientLimit()
    this.#algorithm = typeof limit === 'number' ? fixedLimit(limit) : limit
    this.#limit = this.#algorithm.limit
    this.#maxQueue = Math.max(0, Math.floor(options.maxQueue ?? 0))
    this.#queueTimeoutMs = options.queueTimeoutMs ?? 1000
    if (!(this.#queueTimeoutMs >= 0)) {
      throw new RangeError(`queueTimeoutMs must be >= 0, got ${this.#queueTimeoutMs}`)
    }
    const shares = { critical: 1, normal: 1, sheddable: 0.5, ...options.shares }
    for (const p of PRIORITIES) {
      if (!(shares[p] > 0)) throw new RangeError(`shares.${p} must be > 0, got ${shares[p]}`)
    }
    this.#shares = shares
    this.#minShare = Math.min(shares.critical, shares.normal, shares.sheddable)
    this.#retryAfterMs = Math.max(0, options.retryAfterMs ?? 1000)
    this.#isDropped = options.isDropped ?? isOverloadSignal
  }

  get events(): Events<LimitEventMap> {
    return this.#events
  }
  get limit(): number {
    return this.#limit
  }
  get inflight(): number {
    return this.#inflight
  }
  get queued(): number {
    return this.#queued
  }
  get maxQueue(): number {
    return this.#maxQueue
  }

  /** A bound function: observers may call it detached. */
  readonly stats: () => LimitStats = () => ({
    limit: this.#limit,
    inflight: this.#inflight,
    queued: this.#queued,
  })

  tryAcquire(priority: LimitPriority = 'normal'): LimitPermit | undefined {
    if (this.#admissible(priority) && !this.#waitingAtOrAbove(priority)) return this.#admit()
    this.#shed('limit', priority)
    return undefined
  }

  admit(
    priority: LimitPriority = 'normal',
    signalOrGet?: AbortSignal | (() => AbortSignal | undefined),
  ): LimitPermit | Promise<LimitPermit> | ImmediateRefusal {
    // A getter is called only if the work waits: work admitted or refused at once needs
    // no signal, and a request's signal costs an AbortController to make.
    const given = typeof signalOrGet === 'function' ? undefined : signalOrGet
    if (given?.aborted) return Promise.reject(given.reason)
    if (this.#admissible(priority) && !this.#waitingAtOrAbove(priority)) return this.#admit()
    const refused = this.#refuseFull(priority)
    if (refused !== undefined) return refused
    // A full queue with lower-priority work waiting: the lowest newest waiter makes room.
    if (this.#queued >= this.#maxQueue) this.#evictBelow(priority)
    const signal = typeof signalOrGet === 'function' ? signalOrGet() : given
    if (signal?.aborted) return Promise.reject(signal.reason)
    return new Promise<LimitPermit>((resolve, reject) => {
      const waiter: Waiter = { priority, resolve, reject, timer: undefined, unsubscribe: undefined }
      this.#queues[priority].push(waiter)
      this.#queued++
      waiter.timer = this.clock.setTimeout(() => {
        waiter.timer = undefined
        if (this.#remove(waiter)) reject(this.#refuse('queue-timeout', priority))
      }, this.#queueTimeoutMs)
      if (signal !== undefined && signal !== neverAborts()) {
        const onAbort = (): void => {
          // A caller that gave up leaves the queue at once: it must not hold a place.
          if (this.#remove(waiter)) reject(signal.reason)
        }
        signal.addEventListener('abort', onAbort, { once: true })
        waiter.unsubscribe = () => signal.removeEventListener('abort', onAbort)
      }
    })
  }

  acquire(
    priority: LimitPriority = 'normal',
    signalOrGet?: AbortSignal | (() => AbortSignal | undefined),
  ): Promise<LimitPermit> {
    const entered = this.admit(priority, signalOrGet)
    if (typeof entered === 'string') {
      // Frames: acquire and acquire's caller.
      const previous = lowerStackLimit(2)
      try {
        return Promise.reject(new OverloadedError(this.name, entered, this.#retryAfterMs))
      } finally {
        restoreStackLimit(previous)
      }
    }
    return entered instanceof Promise ? entered : Promise.resolve(entered)
  }

  async execute<T>(fn: PolicyFn<T>, signal: AbortSignal = neverAborts(), attempt = 1): Promise<T> {
    const permit = this.#maxQueue === 0 ? this.#tryOrThrow() : await this.acquire('normal', signal)
    try {
      const result = await fn({ signal, attempt })
      permit.release(this.#isDropped(result) ? 'dropped' : 'success')
      return result
    } catch (error) {
      // The caller gave up: the call's duration says nothing about the service.
      const outcome =
        signal.aborted && abortKind(signal.reason) === 'client-disconnect'
          ? 'ignore'
          : this.#isDropped(error)
            ? 'dropped'
            : 'success'
      permit.release(outcome)
      throw error
    }
  }

  /** Called by a permit: frees its slot, feeds the algorithm, serves the queue. */
  release(start: number, inflight: number, outcome: 'success' | 'dropped' | 'ignore'): void {
    this.#inflight--
    if (outcome !== 'ignore') {
      const now = this.clock.now()
      this.#algorithm.onSample({
        now,
        rttMs: now - start,
        inflight,
        dropped: outcome === 'dropped',
      })
      const limit = this.#algorithm.limit
      if (limit !== this.#limit) {
        const from = this.#limit
        this.#limit = limit
        if (this.#events.has('limitChange')) {
          this.#events.emit('limitChange', { name: this.name, from, to: limit })
        }
      }
    }
    if (this.#queued > 0) this.#drain()
  }

  #tryOrThrow(): LimitPermit {
    const permit = this.tryAcquire('normal')
    if (permit === undefined) {
      const previous = lowerStackLimit(REFUSAL_FRAMES)
      try {
        throw new OverloadedError(this.name, 'limit', this.#retryAfterMs)
      } finally {
        restoreStackLimit(previous)
      }
    }
    return permit
  }

  #admissible(priority: LimitPriority): boolean {
    return this.#inflight < this.#limit * this.#shares[priority]
  }

  /** True when work of this priority or higher is waiting: a newcomer must not jump it. */
  #waitingAtOrAbove(priority: LimitPriority): boolean {
    if (this.#queued === 0) return false
    for (const p of PRIORITIES) {
      if (this.#queues[p].length > 0) return true
      if (p === priority) return false
    }
    return false
  }

  #admit(): LimitPermit {
    this.#inflight++
    return new Permit(this, this.clock.now(), this.#inflight)
  }

  #drain(): void {
    for (const p of PRIORITIES) {
      const queue = this.#queues[p]
      while (queue.length > 0 && this.#admissible(p)) {
        const waiter = queue.shift() as Waiter
        this.#queued--
        this.#settle(waiter)
        waiter.resolve(this.#admit())
      }
    }
  }

  /** Refuses the newest waiter of the lowest priority below `priority`, if any. */
  #evictBelow(priority: LimitPriority): void {
    for (let i = PRIORITIES.length - 1; PRIORITIES[i] !== priority; i--) {
      const p = PRIORITIES[i] as LimitPriority
      const waiter = this.#queues[p].pop()
      if (waiter !== undefined) {
        this.#queued--
        this.#settle(waiter)
        waiter.reject(this.#refuse('queue-full', p))
        return
      }
    }
  }

  #remove(waiter: Waiter): boolean {
    const queue = this.#queues[waiter.priority]
    const i = queue.indexOf(waiter)
    if (i < 0) return false
    queue.splice(i, 1)
    this.#queued--
    this.#settle(waiter)
    return true
  }

  #settle(waiter: Waiter): void {
    if (waiter.timer !== undefined) this.clock.clearTimeout(waiter.timer)
    waiter.timer = undefined
    waiter.unsubscribe?.()
    waiter.unsubscribe = undefined
  }

  #refuse(reason: ShedReason, priority: LimitPriority): OverloadedError {
    this.#shed(reason, priority)
    const previous = lowerStackLimit(REFUSAL_FRAMES)
    try {
      return new OverloadedError(this.name, reason, this.#retryAfterMs)
    } finally {
      restoreStackLimit(previous)
    }
  }

  #shed(reason: ShedReason, priority: LimitPriority): void {
    if (!this.#events.has('shed')) return
    this.#events.emit('shed', this.shedPayload(reason, priority))
  }

  /** One frozen payload per reason and priority: shedding allocates nothing. */
  shedPayload(reason: ShedReason, priority: LimitPriority): LimitEventMap['shed'] {
    const key = reason + priority
    let payload = this.#shedPayloads.get(key)
    if (payload === undefined) {
      payload = Object.freeze({ name: this.name, reason, priority })
      this.#shedPayloads.set(key, payload)
    }
    return payload
  }

  /** Emits `shed` for a refusal decided outside the limiter (the middleware's deadline check). */
  reportShed(reason: ShedReason, priority: LimitPriority): void {
    this.#shed(reason, priority)
  }

  /**
   * False when no work of any priority could be refused at once right now (a queue with
   * room, or in flight below every share): one comparison, so a caller asking ahead of
   * `admit()` skips its own work while the limiter has room.
   */
  mayRefuseAtOnce(): boolean {
    return this.#maxQueue === 0
      ? this.#inflight >= this.#limit * this.#minShare
      : this.#queued >= this.#maxQueue
  }

  /**
   * Sheds work at once — counted and reported, the reason returned — when
   * `admit(priority)` would refuse it right now; `undefined`, with nothing changed, when
   * it would admit the work or queue it (evicting lower-priority work included).
   */
  shedIfRefused(priority: LimitPriority): ImmediateRefusal | undefined {
    if (this.#admissible(priority) && !this.#waitingAtOrAbove(priority)) return undefined
    return this.#refuseFull(priority)
  }

  /**
   * For work that cannot start now: refuses it (counted, reported) when there is no
   * queue, or the queue is full of work at or above its priority; else `undefined`.
   */
  #refuseFull(priority: LimitPriority): ImmediateRefusal | undefined {
    if (this.#maxQueue === 0) {
      this.#shed('limit', priority)
      return 'limit'
    }
    if (this.#queued < this.#maxQueue || this.#waitingBelow(priority)) return undefined
    this.#shed('queue-full', priority)
    return 'queue-full'
  }

  /** True when work of a lower priority waits (a full queue would make room by evicting it). */
  #waitingBelow(priority: LimitPriority): boolean {
    for (let i = PRIORITIES.length - 1; PRIORITIES[i] !== priority; i--) {
      if (this.#queues[PRIORITIES[i] as LimitPriority].length > 0) return true
    }
    return false
  }
}

class Permit implements LimitPermit {
  readonly #limiter: Limiter
  readonly #start: number
  readonly #inflight: number
  #done = false

  constructor(limiter: Limiter, start: number, inflight: number) {
    this.#limiter = limiter
    this.#start = start
    this.#inflight = inflight
  }

  release(outcome: 'success' | 'dropped' | 'ignore' = 'success'): void {
    if (this.#done) return
    this.#done = true
    this.#limiter.release(this.#start, this.#inflight, outcome)
  }
}

/** Reports a shed decided outside a limiter (the middleware's deadline check), if it is ours. */
export function reportShed(
  limiter: ConcurrencyLimiter,
  reason: ShedReason,
  priority: LimitPriority,
): void {
  if (limiter instanceof Limiter) limiter.reportShed(reason, priority)
}

/** What `shedEarly()` asks of a limiter ahead of `admit()` (see `Limiter`). */
export interface EarlyShedder {
  /** False when nothing could be refused at once right now (a cheap first check). */
  mayRefuseAtOnce(): boolean
  /** Sheds (counted, reported) what `admit(priority)` would refuse at once; else `undefined`, nothing changed. */
  shedIfRefused(priority: LimitPriority): ImmediateRefusal | undefined
}

/**
 * For `shedEarly()`: `limiter` as an `EarlyShedder`, or `undefined` when it is not one of
 * `concurrencyLimiter()`'s (its decisions cannot be asked ahead of `admit()`).
 */
export function earlyShedder(limiter: ConcurrencyLimiter): EarlyShedder | undefined {
  return limiter instanceof Limiter ? limiter : undefined
}
