import type { RetryEventMap } from '@sturdy/core'
import { isCircuitRejection } from '@sturdy/core'
import { isDoNotRetryError } from './errors.ts'
import type { Pushback } from './pushback.ts'
import type { RetryFailure, RetrySettings } from './retry-options.ts'

/** Why a call stopped retrying (the `giveUp` event's `reason`). */
export type GiveUpReason = RetryEventMap['giveUp']['reason']

/** What one call has used so far: `decide` reads it, the call updates it after a retry. */
export interface RetryState {
  /** Retries that used up one of `maxAttempts`. */
  consumed: number
  /** Retries `consumeAttempt` let through for free. */
  free: number
  /** The backoff chosen for the previous retry (0 before the first); decorrelated jitter grows from it. */
  previousDelayMs: number
}

/** The verdict on one failed attempt. */
export type Decision =
  | {
      readonly retry: true
      /** How long to sleep before the next attempt (the pushback when a server sent one). */
      readonly delayMs: number
      /** The backoff computed for this retry, whether or not a pushback replaced it. */
      readonly backoffMs: number
      /** Whether this retry uses up one of `maxAttempts`. */
      readonly consumes: boolean
    }
  | {
      readonly retry: false
      readonly reason: GiveUpReason
      /** What to report and throw instead of the failure's own error (a `doNotRetry` cause). */
      readonly error?: unknown
    }

/**
 * Decides what follows a failed attempt, in the order the README's "How it decides"
 * lists (the abort checks come first and belong to the caller, which owns the signals):
 *
 * 1. a `doNotRetry(e)` error, or `retryOn` false → `not-retryable`;
 * 2. the attempts are spent → `max-attempts`;
 * 3. a circuit breaker's rejection that the backoff would not outwait → `circuit-open`;
 * 4. pushback `'stop'`, or longer than `maxPushbackMs` → `pushback`;
 * 5. no time left for the sleep plus `minAttemptMs` → `deadline`;
 * 6. the budget refuses → `budget-exhausted`;
 * 7. otherwise retry after the pushback, or the backoff.
 *
 * Taking a retry from the budget (step 6) is its only side effect, so a budget is only
 * charged for a retry that will happen.
 *
 * @param s the policy's settings
 * @param state what this call has used so far
 * @param failure the attempt that failed
 * @param deadline the call's absolute deadline on `s.clock`; `Infinity` for none
 * @returns retry (with the delay) or stop (with the reason)
 */
export function decide(
  s: RetrySettings,
  state: RetryState,
  failure: RetryFailure,
  deadline: number,
): Decision {
  if (failure.kind === 'error') {
    const error = failure.error
    if (isDoNotRetryError(error))
      return { retry: false, reason: 'not-retryable', error: error.cause }
    if (!s.retryOn(error, failure.attempt)) return stop('not-retryable')
  }
  // p-retry refuses once the consuming retries are spent, free or not; decide it here so
  // the give-up is reported with its reason.
  if (state.consumed >= s.maxAttempts - 1) return stop('max-attempts')
  const consumes = !(
    s.consumeAttempt !== undefined &&
    state.free < s.maxFreeRetries &&
    !s.consumeAttempt(failure)
  )

  let backoffMs: number
  let delayMs: number
  if (failure.kind === 'error' && isCircuitRejection(failure.error)) {
    // An open breaker's `retryAfterMs` is not a server asking for patience: sleeping it
    // out (up to the open period, 60 s by default) would turn a fail-fast 503 into the
    // slowest answer. Retry only when the breaker may admit a call by the time the
    // ordinary backoff ends anyway.
    backoffMs = nextBackoff(s, failure, state)
    const wait = failure.error.retryAfterMs
    if (!(wait <= backoffMs)) return stop('circuit-open')
    delayMs = backoffMs
  } else {
    const push = validPushback(s.pushback?.(failure, s.wallClock()))
    if (push === 'stop' || (push !== undefined && push > s.maxPushbackMs)) return stop('pushback')
    backoffMs = nextBackoff(s, failure, state)
    // gRFC A6: pushback replaces the backoff for this retry; the server knows best.
    delayMs = push ?? backoffMs
  }

  if (
    deadline !== Number.POSITIVE_INFINITY &&
    s.clock.now() + delayMs + s.minAttemptMs >= deadline
  ) {
    return stop('deadline')
  }
  if (s.budget !== undefined && !s.budget.tryWithdraw()) return stop('budget-exhausted')
  return { retry: true, delayMs, backoffMs, consumes }
}

function stop(reason: GiveUpReason): Decision {
  return { retry: false, reason }
}

/** The custom `delay` when it answers, else the backoff; custom delays are clamped. */
function nextBackoff(s: RetrySettings, failure: RetryFailure, state: RetryState): number {
  const retry = state.consumed + state.free
  const previousDelayMs = state.previousDelayMs
  const custom = s.delay?.({
    attempt: failure.attempt,
    retry,
    previousDelayMs,
    failure,
    random: s.random,
  })
  if (custom === undefined) return s.backoff(retry, previousDelayMs, s.random)
  return Number.isNaN(custom) ? 0 : Math.min(s.maxDelayMs, Math.max(0, custom))
}

/** A custom `pushback` returning NaN, Infinity or a negative number is treated as silence. */
export function validPushback(push: Pushback): Pushback {
  if (push === 'stop' || push === undefined) return push
  return Number.isFinite(push) && push >= 0 ? push : undefined
}
