import type { AbortSubscriber, Clock, Random } from '@sturdy/core'
import { AbortFanout, systemClock, systemRandom } from '@sturdy/core'
import type { Backoff, BackoffOptions } from './backoff.ts'
import { BACKOFF_DEFAULTS, exponentialBackoff } from './backoff.ts'
import type { RetryBudget } from './budget.ts'
import { keepAliveClock } from './keep-alive-clock.ts'
import type { Pushback } from './pushback.ts'
import { readPushback } from './pushback.ts'
import { defaultRetryOn } from './retryable.ts'

/** One failed attempt, as predicates, pushback readers and delay functions see it. */
export type RetryFailure =
  | { readonly kind: 'error'; readonly attempt: number; readonly error: unknown }
  | { readonly kind: 'result'; readonly attempt: number; readonly result: unknown }

/** What a custom `delay` function is told. */
export interface DelayContext {
  /** The attempt that just failed (1 for the first). */
  readonly attempt: number
  /** 0 for the first retry, 1 for the second, ... (free retries included). */
  readonly retry: number
  /** The backoff delay chosen for the previous retry (0 before the first). */
  readonly previousDelayMs: number
  readonly failure: RetryFailure
  /** The policy's random source: use it, not `Math.random`, so tests can seed it. */
  readonly random: Random
}

/** Options of `retry`. Every delay and deadline is in ms on `clock`'s scale. */
export interface RetryOptions extends BackoffOptions {
  /** Names the policy in events, metrics and traces. @default 'retry' */
  name?: string
  /** Attempts in total, the first included (3 = 1 call + 2 retries). `Infinity` only with a deadline or budget. @default 3 */
  maxAttempts?: number
  /** Custom delay per retry; return `undefined` to use the backoff. Clamped to `[0, maxDelayMs]`. @default undefined */
  delay?: (ctx: DelayContext) => number | undefined
  /** Which thrown errors to retry. `doNotRetry(...)` errors are never retried. @default defaultRetryOn */
  retryOn?: (error: unknown, attempt: number) => boolean
  /** Which results to retry (e.g. `httpRetryableResult`); the last one is returned when retries run out. @default undefined (never) */
  retryOnResult?: (result: unknown, attempt: number) => boolean
  /** Whether a failure uses up one of `maxAttempts` (p-retry's `shouldConsumeRetry`). @default undefined (every failure does) */
  consumeAttempt?: (failure: RetryFailure) => boolean
  /** Cap on retries `consumeAttempt` lets through for free, per call. @default 3 */
  maxFreeRetries?: number
  /** Absolute deadline on `clock`: no sleep past it, no attempt after it, attempts aborted at it. @default undefined */
  deadline?: number
  /** Time budget per `execute`, from its start; combined with `deadline` (earlier wins). @default Infinity */
  maxElapsedMs?: number
  /** The least time an attempt needs: none starts with less than this left before the deadline. @default 0 */
  minAttemptMs?: number
  /** Reads server pushback from a failure; `false` ignores pushback. @default readPushback of the error or result */
  pushback?: false | ((failure: RetryFailure, nowEpochMs: number) => Pushback)
  /** Longest pushback honoured; a server asking for longer ends the retries (reason `pushback`). @default 30000 */
  maxPushbackMs?: number
  /** A shared retry budget (`retryBudget()`); exhausted → `RetryBudgetExhaustedError`. @default undefined */
  budget?: RetryBudget
  /** Disposes a result that is about to be retried. @default cancels a fetch `Response` body, freeing its connection */
  discardResult?: (result: unknown) => void
  /** Time source for sleeps and deadlines. @default systemClock, with ref'd timers unless `unref` */
  clock?: Clock
  /** Let a pending sleep not keep the process alive (p-retry's `unref`); only for the default clock. @default false */
  unref?: boolean
  /** Random source for jitter. @default systemRandom */
  random?: Random
  /** Wall-clock ms since the epoch, for `Retry-After` HTTP-dates. @default Date.now */
  wallClock?: () => number
}

/** Defaults of `retry` that are not backoff defaults, written once. */
export const RETRY_DEFAULTS: {
  readonly name: 'retry'
  readonly maxAttempts: 3
  readonly maxFreeRetries: 3
  readonly minAttemptMs: 0
  readonly maxPushbackMs: 30000
} = { name: 'retry', maxAttempts: 3, maxFreeRetries: 3, minAttemptMs: 0, maxPushbackMs: 30000 }

/** `RetryOptions` with every default applied and every value checked, shared by all calls. */
export interface RetrySettings {
  readonly name: string
  readonly maxAttempts: number
  readonly backoff: Backoff
  readonly maxDelayMs: number
  readonly delay: ((ctx: DelayContext) => number | undefined) | undefined
  readonly retryOn: (error: unknown, attempt: number) => boolean
  readonly retryOnResult: ((result: unknown, attempt: number) => boolean) | undefined
  readonly consumeAttempt: ((failure: RetryFailure) => boolean) | undefined
  readonly maxFreeRetries: number
  readonly maxElapsedMs: number
  readonly minAttemptMs: number
  readonly pushback: ((failure: RetryFailure, nowEpochMs: number) => Pushback) | undefined
  readonly maxPushbackMs: number
  readonly budget: RetryBudget | undefined
  readonly discardResult: (result: unknown) => void
  readonly clock: Clock
  readonly random: Random
  readonly wallClock: () => number
  /** One abort listener per caller signal for all of the policy's calls (deadlines, sleeps). */
  readonly callers: AbortFanout<AbortSubscriber>
}

/**
 * Applies the defaults and rejects values that would make the policy unsafe (a
 * negative budget, a fractional attempt count, a NaN deadline).
 *
 * @param o the caller's options
 * @returns the settings every call of the policy reads
 */
export function resolveRetryOptions(o: RetryOptions): RetrySettings {
  const maxAttempts = o.maxAttempts ?? RETRY_DEFAULTS.maxAttempts
  if (
    !(
      maxAttempts === Number.POSITIVE_INFINITY ||
      (Number.isInteger(maxAttempts) && maxAttempts >= 1)
    )
  ) {
    throw new RangeError(`maxAttempts must be an integer >= 1 or Infinity, got ${maxAttempts}`)
  }
  const maxFreeRetries = o.maxFreeRetries ?? RETRY_DEFAULTS.maxFreeRetries
  if (!(Number.isInteger(maxFreeRetries) && maxFreeRetries >= 0)) {
    throw new RangeError(`maxFreeRetries must be an integer >= 0, got ${maxFreeRetries}`)
  }
  const maxElapsedMs = o.maxElapsedMs ?? Number.POSITIVE_INFINITY
  const minAttemptMs = o.minAttemptMs ?? RETRY_DEFAULTS.minAttemptMs
  const maxPushbackMs = o.maxPushbackMs ?? RETRY_DEFAULTS.maxPushbackMs
  for (const [k, v] of [
    ['maxElapsedMs', maxElapsedMs],
    ['minAttemptMs', minAttemptMs],
    ['maxPushbackMs', maxPushbackMs],
  ] as const) {
    if (Number.isNaN(v) || v < 0) throw new RangeError(`${k} must be >= 0, got ${v}`)
  }
  if (o.deadline !== undefined) assertDeadline(o.deadline)
  return {
    name: o.name ?? RETRY_DEFAULTS.name,
    maxAttempts,
    backoff: exponentialBackoff(o),
    maxDelayMs: o.maxDelayMs ?? BACKOFF_DEFAULTS.maxDelayMs,
    delay: o.delay,
    retryOn: o.retryOn ?? defaultRetryOn,
    retryOnResult: o.retryOnResult,
    consumeAttempt: o.consumeAttempt,
    maxFreeRetries,
    maxElapsedMs,
    minAttemptMs,
    pushback: o.pushback === false ? undefined : (o.pushback ?? pushbackOfFailure),
    maxPushbackMs,
    budget: o.budget,
    discardResult: o.discardResult ?? discardResponse,
    clock: o.clock ?? (o.unref === true ? systemClock : keepAliveClock),
    random: o.random ?? systemRandom,
    wallClock: o.wallClock ?? Date.now,
    callers: new AbortFanout<AbortSubscriber>(),
  }
}

/** A deadline must be a number; `Infinity` means none. */
export function assertDeadline(deadline: number): void {
  if (Number.isNaN(deadline)) throw new RangeError('deadline must be a number, got NaN')
}

/** The default `pushback`: `readPushback` on the error, or on the result. */
export function pushbackOfFailure(failure: RetryFailure, nowEpochMs: number): Pushback {
  return readPushback(failure.kind === 'error' ? failure.error : failure.result, nowEpochMs)
}

/** Cancels an unread fetch `Response` body so its connection goes back to the pool. */
export function discardResponse(result: unknown): void {
  const r = result as { body?: { cancel?: () => Promise<void> } | null; bodyUsed?: boolean } | null
  if (typeof r !== 'object' || r === null || r.bodyUsed === true) return
  const body = r.body
  if (typeof body?.cancel === 'function') body.cancel().catch(() => {})
}
