import type { Clock } from '@sturdy/core'
import { outgoingBudget, systemClock } from '@sturdy/core'

/** Options of `callBudget()`. */
export interface CallBudgetOptions {
  /**
   * Time kept back for the response to travel home and be handled.
   * @default 5
   */
  marginMs?: number
  /**
   * Upper bound for this call, whatever the request has left (the callee's own
   * timeout, say). `Infinity` for none.
   * @default Infinity
   */
  maxMs?: number
  /**
   * Time source; must be the one the deadline was computed on.
   * @default systemClock
   */
  clock?: Clock
}

/**
 * The budget to give an outgoing call: what is left of the request's deadline, minus a
 * safety margin, capped at `maxMs`, never below 0. Stamp it with `stampDeadline()` and
 * bound the call with it (`timeout(budget)`); 0 means there is no time left to call.
 *
 * Core's `outgoingBudget(deadline, marginMs, clock)` is the same arithmetic without the
 * cap; this is the options-object form the client packages use.
 *
 * @param deadline absolute deadline on `clock`'s scale (`c.var.deadline`), or undefined for none
 * @param options see `CallBudgetOptions`
 * @returns the budget in ms; `Infinity` when there is neither a deadline nor a cap
 * @example
 * const budget = callBudget(c.var.deadline, { marginMs: 10, maxMs: 2000 })
 * if (budget === 0) throw new TimeoutError('No time left for the inventory call')
 */
export function callBudget(deadline: number | undefined, options: CallBudgetOptions = {}): number {
  const left = outgoingBudget(deadline, options.marginMs ?? 5, options.clock ?? systemClock)
  const cap = options.maxMs ?? Number.POSITIVE_INFINITY
  return left < cap ? left : Math.max(0, cap)
}
