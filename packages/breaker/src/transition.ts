import type { BreakerEventMap, CircuitState } from '@sturdy/core'
import type { BreakerSettings, TripReason } from './breaker-options.ts'
import type { Counts } from './counts.ts'
import { snapshotCounts } from './counts.ts'

/** A move of the state machine, with the reason `stateChange` reports. */
export interface Transition {
  readonly to: CircuitState
  readonly reason: BreakerEventMap['stateChange']['reason']
}

/**
 * What a call that settled in the current generation does to the circuit, once its
 * outcome has been counted: gobreaker's `onSuccess` / `onFailure`, plus the ratio trips
 * and the slow half-open trial.
 *
 * - half-open: a failure reopens (`probe-failed`), so does a slow success when slow calls
 *   can trip (`probe-slow`); `maxRequests` consecutive successes close (`probe-succeeded`).
 * - closed: a failure may trip `readyToTrip` or a ratio; a success only a ratio (it may be
 *   the call that reaches `minimumThroughput`, or a slow one).
 *
 * Only closed and half-open circuits admit calls, so no other state reaches here.
 *
 * @param s the breaker's settings
 * @param state the state the call settled in
 * @param failed whether the call failed (excluded calls never get here)
 * @param slow whether it took at least `slowCallMs`
 * @param counts the window's counts, this call included
 * @returns the transition, or undefined to stay
 */
export function afterSettle(
  s: BreakerSettings,
  state: CircuitState,
  failed: boolean,
  slow: boolean,
  counts: Counts,
): Transition | undefined {
  if (state === 'half-open') {
    if (failed) return { to: 'open', reason: 'probe-failed' }
    if (slow && s.slowCallRatio !== undefined) return { to: 'open', reason: 'probe-slow' }
    if (counts.consecutiveSuccesses >= s.maxRequests)
      return { to: 'closed', reason: 'probe-succeeded' }
    return undefined
  }
  // The hot path: a success with no ratio configured can never trip.
  if (!failed && !s.ratioTrip) return undefined
  const reason = tripReason(s, counts, failed)
  return reason === undefined ? undefined : { to: 'open', reason }
}

/** The part of `Counts` ratio trips read: all a cluster's merged counts carry. */
export interface RatioCounts {
  readonly totalSuccesses: number
  readonly totalFailures: number
  readonly slowCalls: number
}

/** Which trip condition, if any, the closed-state counts meet. */
function tripReason(s: BreakerSettings, c: Counts, afterFailure: boolean): TripReason | undefined {
  if (afterFailure && s.readyToTrip?.(snapshotCounts(c))) return s.readyReason
  return ratioTrip(s, c)
}

/**
 * Which ratio trip, if any, counts meet once `minimumThroughput` results are in: of one
 * breaker's window, or of the cluster's (`mergeCounts`).
 *
 * @param s the breaker's settings
 * @param c successes, failures and slow calls
 * @returns `failure-ratio`, `slow-call-ratio`, or undefined
 */
export function ratioTrip(s: BreakerSettings, c: RatioCounts): TripReason | undefined {
  const finished = c.totalSuccesses + c.totalFailures
  if (finished < s.minimumThroughput) return undefined
  if (s.failureRatio !== undefined && c.totalFailures / finished >= s.failureRatio) {
    return 'failure-ratio'
  }
  if (s.slowCallRatio !== undefined && c.slowCalls / finished >= s.slowCallRatio) {
    return 'slow-call-ratio'
  }
  return undefined
}
