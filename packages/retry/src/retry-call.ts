import type { AbortSubscriber, Emitter, PolicyFn, RetryEventMap } from '@sturdy/core'
import { TimeoutError } from '@sturdy/core'
import type { Options as PRetryOptions } from 'p-retry'
import type { Decision, GiveUpReason, RetryState } from './decide.ts'
import { decide } from './decide.ts'
import { RetryBudgetExhaustedError } from './errors.ts'
import type { RetryFailure, RetrySettings } from './retry-options.ts'

/**
 * The mechanics of one `execute`: its deadline and signal, running an attempt, acting on
 * `decide()`'s verdict (events, discarding a result, sleeping), and turning the way the
 * loop ended into the call's outcome. `retry.ts` holds only the loop.
 */
export class RetryCall<T> implements AbortSubscriber {
  readonly #s: RetrySettings
  readonly #events: Emitter<RetryEventMap>
  readonly #fn: PolicyFn<T>
  readonly #caller: AbortSignal
  /** Absolute, on the settings' clock; `Infinity` when the call has none. */
  readonly #deadline: number
  /** The attempts' signal: the caller's, or one that also aborts at the deadline. */
  readonly #signal: AbortSignal
  readonly #release: (() => void) | undefined
  /** With a deadline: the attempts' signal, aborted by the deadline or by the caller. */
  readonly #expiry: AbortController | undefined
  readonly #state: RetryState = { consumed: 0, free: 0, previousDelayMs: 0 }
  /** Whether the last retry used up an attempt, for p-retry's `shouldConsumeRetry`. */
  #consumedLast = true
  /** Whether the current attempt reports `attemptEnd`, and when it started. */
  #timed = false
  #t0 = 0

  /**
   * Starts the call: refuses it (throws) when the caller already gave up or the deadline
   * leaves no time for an attempt; otherwise deposits in the budget and arms the deadline.
   */
  constructor(
    s: RetrySettings,
    events: Emitter<RetryEventMap>,
    fn: PolicyFn<T>,
    caller: AbortSignal,
    fixedDeadline: number | undefined,
  ) {
    this.#s = s
    this.#events = events
    this.#fn = fn
    this.#caller = caller
    // Reading the clock costs tens of ns on Node 20; calls without a deadline skip it.
    const bounded = fixedDeadline !== undefined || s.maxElapsedMs !== Number.POSITIVE_INFINITY
    const startedAt = bounded ? s.clock.now() : 0
    const deadline = bounded
      ? Math.min(fixedDeadline ?? Number.POSITIVE_INFINITY, startedAt + s.maxElapsedMs)
      : Number.POSITIVE_INFINITY
    this.#deadline = deadline
    if (caller.aborted) {
      this.#giveUp(0, caller.reason, 'aborted')
      throw caller.reason
    }
    if (deadline !== Number.POSITIVE_INFINITY && startedAt + s.minAttemptMs >= deadline) {
      const error = new TimeoutError('Deadline leaves no time for an attempt', deadline - startedAt)
      this.#giveUp(0, error, 'deadline')
      throw error
    }
    s.budget?.deposit()
    if (deadline === Number.POSITIVE_INFINITY) {
      this.#signal = caller
      return
    }
    // A deadline costs one controller and one timer per call, and only when set: the
    // attempt's signal must abort at the deadline or "total time ≤ deadline" cannot hold.
    // The caller's signal reaches it through the policy's fan-out: one listener on a
    // signal however many calls share it (a server's shutdown signal, a handler's).
    const expiry = new AbortController()
    this.#expiry = expiry
    const timer = s.clock.setTimeout(
      () => expiry.abort(new TimeoutError('Retry deadline exceeded', deadline - startedAt)),
      deadline - startedAt,
    )
    s.callers.add(caller, this)
    this.#signal = expiry.signal
    this.#release = () => {
      s.clock.clearTimeout(timer)
      s.callers.remove(caller, this)
    }
  }

  /** The caller's signal aborted (through the policy's fan-out). */
  onAbort(reason: unknown): void {
    this.#expiry?.abort(reason)
  }

  /** Runs attempt `attempt`; a failure (thrown, or a result to retry) rejects with `AttemptFailed`. */
  async attempt(attempt: number): Promise<T> {
    let result: T
    try {
      result = await this.start(attempt)
    } catch (error) {
      throw this.failed(error, attempt)
    }
    return this.succeeded(result, attempt)
  }

  /**
   * Starts attempt `attempt` and returns what the function returned. `attempt()` awaits it;
   * `retry.ts` awaits the first attempt itself, one promise fewer on the success path.
   */
  start(attempt: number): PromiseLike<T> | T {
    const events = this.#events
    if (events.has('attempt')) events.emit('attempt', { name: this.#s.name, attempt })
    this.#timed = events.has('attemptEnd')
    if (this.#timed) this.#t0 = this.#s.clock.now()
    return this.#fn({ signal: this.#signal, attempt })
  }

  /** The attempt's value: returned, or thrown as `AttemptFailed` when it is a result to retry. */
  succeeded(result: T, attempt: number): T {
    let retryable: boolean
    try {
      retryable = this.#s.retryOnResult?.(result, attempt) === true
    } catch (error) {
      // A throwing predicate fails the attempt like any error, so retryOn still decides.
      throw this.failed(error, attempt)
    }
    if (retryable) {
      this.#end(attempt, 'failure')
      throw new AttemptFailed({ kind: 'result', attempt, result })
    }
    this.#end(attempt, 'success')
    return result
  }

  /** The attempt threw or rejected: its `AttemptFailed`, to throw. */
  failed(error: unknown, attempt: number): AttemptFailed {
    this.#end(attempt, 'failure')
    return new AttemptFailed({ kind: 'error', attempt, error })
  }

  #end(attempt: number, outcome: 'success' | 'failure'): void {
    if (!this.#timed) return
    const durationMs = this.#s.clock.now() - this.#t0
    this.#events.emit('attemptEnd', { name: this.#s.name, attempt, durationMs, outcome })
  }

  /**
   * After a failed attempt: stops the loop (throws `Stop`) or sleeps until the next
   * attempt. p-retry calls it as `onFailedAttempt`; the first attempt's failure too.
   */
  async onFailure(raw: unknown, attempt: number): Promise<void> {
    const failure: RetryFailure =
      raw instanceof AttemptFailed ? raw.failure : { kind: 'error', attempt, error: raw }
    this.#stopIfAborted(failure)
    const d = decide(this.#s, this.#state, failure, this.#deadline)
    if (!d.retry) this.#stop(failure, d)
    const { name, discardResult } = this.#s
    const value = failedValue(failure)
    if (this.#events.has('retry')) {
      this.#events.emit('retry', { name, attempt, delayMs: d.delayMs, error: value })
    }
    if (failure.kind === 'result') {
      try {
        discardResult(value)
      } catch {
        // Freeing the old result is best effort; it must not cost the retry.
      }
    }
    this.#consumedLast = d.consumes
    if (d.consumes) this.#state.consumed++
    else this.#state.free++
    this.#state.previousDelayMs = d.backoffMs
    try {
      await this.#s.callers.sleep(d.delayMs, this.#signal, this.#s.clock)
    } catch {
      this.#stopIfAborted(failure)
    }
  }

  /** p-retry's options: its own delays zeroed, every decision made in `onFailure`. */
  loopOptions(): PRetryOptions {
    return {
      retries: this.#s.maxAttempts - 1 - this.#state.consumed,
      // Zero p-retry's own backoff: the delay is computed and slept in onFailure, on the
      // injected clock, interruptible by the signal (see README "Why p-retry's hooks").
      minTimeout: 0,
      maxTimeout: 0,
      factor: 1,
      randomize: false,
      signal: this.#signal,
      onFailedAttempt: (ctx) => this.onFailure(ctx.error, ctx.attemptNumber + 1),
      // p-retry 7.1 asks this right after onFailedAttempt, which already decided.
      shouldConsumeRetry: () => this.#consumedLast,
      shouldRetry: () => true,
    }
  }

  /** Turns how the loop ended into the call's outcome: a value to return, or a throw. */
  settle(error: unknown): T {
    if (error instanceof Stop) {
      if (error.returns) return error.value as T
      throw error.value
    }
    // p-retry's own abort checks (between attempts, after a success) land here.
    const attempts = this.#state.consumed + this.#state.free + 1
    if (this.#caller.aborted) {
      this.#giveUp(attempts, this.#caller.reason, 'aborted')
      throw this.#caller.reason
    }
    if (this.#signal.aborted) {
      this.#giveUp(attempts, this.#signal.reason, 'deadline')
      throw this.#signal.reason
    }
    if (error instanceof AttemptFailed) {
      const f = error.failure
      this.#giveUp(f.attempt, failedValue(f), 'max-attempts')
      if (f.kind === 'result') return f.result as T
      throw f.error
    }
    throw error
  }

  /** Frees the deadline's timer and signal link; the call has settled. */
  release(): void {
    this.#release?.()
  }

  #stopIfAborted(failure: RetryFailure): void {
    if (this.#caller.aborted) {
      this.#stop(failure, { retry: false, reason: 'aborted', error: this.#caller.reason })
    }
    if (this.#signal.aborted) {
      this.#stop(failure, { retry: false, reason: 'deadline', error: this.#signal.reason })
    }
  }

  #stop(failure: RetryFailure, d: Decision & { retry: false }): never {
    const value = d.error ?? failedValue(failure)
    const exhausted = d.reason === 'budget-exhausted'
    if (exhausted && this.#events.has('budgetExhausted')) {
      this.#events.emit('budgetExhausted', { name: this.#s.name, attempt: failure.attempt })
    }
    this.#giveUp(failure.attempt, value, d.reason)
    if (exhausted && failure.kind === 'error') {
      throw new Stop(false, new RetryBudgetExhaustedError(failure.attempt, { cause: value }))
    }
    throw new Stop(d.error === undefined && failure.kind === 'result', value)
  }

  #giveUp(attempts: number, error: unknown, reason: GiveUpReason): void {
    const events = this.#events
    if (events.has('giveUp')) events.emit('giveUp', { name: this.#s.name, attempts, error, reason })
  }
}

/**
 * Carries a failed attempt through p-retry. An `Error` that is not a `TypeError`, so
 * p-retry's "never retry a non-network TypeError" rule never overrides our predicates.
 */
export class AttemptFailed extends Error {
  readonly failure: RetryFailure
  constructor(failure: RetryFailure) {
    super('attempt failed')
    this.failure = failure
  }
}

/** Thrown from `onFailure` to end p-retry's loop with a decided outcome. */
class Stop extends Error {
  readonly returns: boolean
  readonly value: unknown
  constructor(returns: boolean, value: unknown) {
    super('stop')
    this.returns = returns
    this.value = value
  }
}

function failedValue(failure: RetryFailure): unknown {
  return failure.kind === 'error' ? failure.error : failure.result
}
