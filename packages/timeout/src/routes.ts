import type { Exchange } from '@sturdy/core'
import { routeMatcher } from '@sturdy/core'

/**
 * Per-route budgets, replacing `budgetMs` for matching requests: route patterns in core's
 * one syntax (`'POST /upload'`, `'/users/:id'`, `'GET /files/*'`; the most specific
 * pattern wins — see core `routeMatcher`) mapped to a budget in ms (`Infinity` for none),
 * or a function of the Exchange (`undefined`: use `budgetMs`).
 *
 * Matched on the request's method and raw path *before* routing, because the route
 * template is only known after `next()` — too late to set a deadline for the handler.
 */
export type RouteBudgets = Readonly<Record<string, number>> | ((ex: Exchange) => number | undefined)

/**
 * Compiles route budgets into one lookup; undefined when no rule applies.
 *
 * @throws RangeError for a negative or NaN budget, or a malformed pattern
 */
export function compileRoutes(
  routes: RouteBudgets | undefined,
): ((ex: Exchange) => number | undefined) | undefined {
  if (routes === undefined) return undefined
  if (typeof routes === 'function') return routes
  const entries = Object.entries(routes)
  if (entries.length === 0) return undefined
  for (const [pattern, budgetMs] of entries) {
    if (!(budgetMs >= 0)) {
      throw new RangeError(`route budgetMs must be >= 0, got ${budgetMs} for ${pattern}`)
    }
  }
  const budgets = routeMatcher(entries)
  return (ex) => budgets.match(ex.method, ex.path)
}
