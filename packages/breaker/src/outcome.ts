import { abortKind } from '@sturdy/core'
import type { Counts } from './counts.ts'

/**
 * How a finished call counts: `success` and `failure` move the breaker; `excluded` is
 * neutral (gobreaker's `IsExcluded`): it is tallied in `totalExclusions` and frees its
 * half-open trial slot, but neither trips nor closes the circuit.
 */
export type Outcome = 'success' | 'failure' | 'excluded'

/** A settled call, as the outcome predicate sees it. */
export type Settled<T = unknown> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false
      readonly error: unknown
      /**
       * True when the caller's own signal had aborted for a reason other than a deadline
       * (client went away, shutdown, a manual abort): the dependency is not to blame.
       */
      readonly callerAborted: boolean
    }

/**
 * The default outcome predicate: a value is a success, a thrown error a failure —
 * except an error thrown because the caller gave up (client disconnect, shutdown,
 * manual abort), which is excluded. A deadline (`TimeoutError` reason) still counts
 * as a failure: a dependency too slow for the budget is unhealthy.
 *
 * gobreaker counts every error as a failure by default; Go code usually excludes
 * `context.Canceled` by hand, so Sturdy does it out of the box.
 *
 * @param settled the settled call
 * @returns `success`, `failure` or `excluded`
 * @example
 * const breaker = circuitBreaker({
 *   outcome: (s) => (s.ok && (s.value as Response).status >= 500 ? 'failure' : defaultOutcome(s)),
 * })
 */
export function defaultOutcome(settled: Settled): Outcome {
  if (settled.ok) return 'success'
  return settled.callerAborted ? 'excluded' : 'failure'
}

/**
 * gobreaker's default trip condition: more than 5 consecutive failures (the 6th trips).
 *
 * @param counts the breaker's counts after the failure
 * @returns whether to open the circuit
 * @example
 * circuitBreaker({ failureRatio: 0.5, readyToTrip: defaultReadyToTrip }) // both trips
 */
export function defaultReadyToTrip(counts: Counts): boolean {
  return counts.consecutiveFailures > 5
}

/** Whether the caller's own signal explains an error (see `Settled.callerAborted`). */
export function callerAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && abortKind(signal.reason) !== 'deadline'
}

/**
 * The least time a call must have been given for its deadline to count against the
 * dependency. A caller that sends a call with 3 ms left learns nothing about the callee
 * when those 3 ms run out; counting it would let a few clients with nearly spent budgets
 * trip the circuit of a healthy dependency — and refuse everyone else's calls.
 */
export const MIN_FAIR_BUDGET_MS = 50

/**
 * How a call that ended on its deadline counts: a `failure` when it was given at least
 * `minBudgetMs` (the dependency was too slow for a fair budget), else `excluded` (the
 * caller's budget was all but spent when it called). Used by `@sturdy/client` and
 * `@sturdy/connect`'s client breaker, which know each call's budget.
 *
 * @param budgetMs the time the call had left when the breaker let it through
 * @param minBudgetMs the least budget that makes a deadline the dependency's fault
 * @returns `failure` or `excluded`
 * @example
 * done(deadlineOutcome(deadline - start)) // 3 ms budget: excluded; 1 s: failure
 */
export function deadlineOutcome(
  budgetMs: number,
  minBudgetMs: number = MIN_FAIR_BUDGET_MS,
): Outcome {
  return budgetMs >= minBudgetMs ? 'failure' : 'excluded'
}
