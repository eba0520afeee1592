import type { Exchange } from '@sturdy/core'

/**
 * A per-route budget rule. Matched on the request's method and raw path *before*
 * routing, because the route template is only known after `next()` — too late to set
 * a deadline for the handler.
 */
export interface RouteBudget {
  /**
   * Method or methods to match (case-insensitive). All methods when omitted.
   * @default undefined
   */
  method?: string | readonly string[]
  /**
   * The path: a template in the router's style (`/users/:id`, `/files/*`; `:name` is
   * one segment, `*` is anything) matched against the whole path, or a `RegExp`
   * tested against it.
   */
  path: string | RegExp
  /** The budget for matching requests, in ms (`Infinity` for none). */
  budgetMs: number
}

/** Per-route budgets: a rule table (first match wins) or a function of the Exchange. */
export type RouteBudgets = readonly RouteBudget[] | ((ex: Exchange) => number | undefined)

/**
 * Compiles route budgets into one lookup; undefined when no rule applies. Templates
 * become anchored regular expressions once, at construction.
 */
export function compileRoutes(
  routes: RouteBudgets | undefined,
): ((ex: Exchange) => number | undefined) | undefined {
  if (routes === undefined) return undefined
  if (typeof routes === 'function') return routes
  if (routes.length === 0) return undefined
  for (const r of routes) {
    if (!(r.budgetMs >= 0)) {
      throw new RangeError(`route budgetMs must be >= 0, got ${r.budgetMs} for ${String(r.path)}`)
    }
  }
  const rules = routes.map((r) => ({
    methods:
      r.method === undefined
        ? undefined
        : new Set((typeof r.method === 'string' ? [r.method] : r.method).map(upper)),
    path: typeof r.path === 'string' ? templateToRegExp(r.path) : r.path,
    budgetMs: r.budgetMs,
  }))
  return (ex) => {
    const method = ex.method.toUpperCase()
    const path = ex.path
    for (const rule of rules) {
      if (rule.methods !== undefined && !rule.methods.has(method)) continue
      rule.path.lastIndex = 0 // a /g or /y RegExp is stateful; rules must not be
      if (rule.path.test(path)) return rule.budgetMs
    }
    return undefined
  }
}

function upper(s: string): string {
  return s.toUpperCase()
}

/**
 * `/users/:id/*` -> `^/users/[^/]+(?:/.*)?$`. Everything but `:param` and `*` is
 * literal; a trailing `/*` also matches the bare prefix, as in Hono.
 */
function templateToRegExp(template: string): RegExp {
  let source = ''
  for (const segment of template.split('/')) {
    if (source !== '' || segment !== '') source += '/'
    if (segment === '*') source += '.*'
    else if (segment.startsWith(':')) source += '[^/]+'
    else source += segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\*/g, '.*')
  }
  if (source.endsWith('/.*')) source = `${source.slice(0, -3)}(?:/.*)?`
  return new RegExp(`^${source === '' ? '/' : source}$`)
}
