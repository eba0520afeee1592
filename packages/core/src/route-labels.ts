import { UNMATCHED_ROUTE } from './exchange.ts'

/**
 * The route value a request gets once its app has reported too many distinct routes, or
 * a route too long to be a template. Like `UNMATCHED_ROUTE`, one fixed value: metrics,
 * spans and logs never see the raw value.
 */
export const OVERFLOW_ROUTE = '__other__'

/** Options of `boundedRoutes()`. */
export interface BoundedRoutesOptions {
  /**
   * Distinct route values kept, first come first kept; later new values become
   * `OVERFLOW_ROUTE`. `UNMATCHED_ROUTE` does not count.
   * @default 1000
   */
  maxRoutes?: number
  /**
   * Longest route value kept, in characters; longer ones become `OVERFLOW_ROUTE`.
   * @default 256
   */
  maxLength?: number
}

/** Maps whatever an adapter found as the route to a bounded route value. */
export type RouteLabel = (route: string | undefined) => string

/**
 * The one place the route value's bound is guaranteed. `Exchange.route()` feeds metric
 * labels, span names and log fields, so it must stay a small set whatever the framework
 * (or a user's `route` function, or a router that reports odd templates) hands over.
 * Every adapter passes the route it found through the function this returns, one per
 * mount: `undefined` or `''` becomes `UNMATCHED_ROUTE`; a value longer than `maxLength`,
 * or a new value once `maxRoutes` distinct ones were seen, becomes `OVERFLOW_ROUTE`.
 * Memory is bounded by `maxRoutes × maxLength`; a lookup allocates nothing.
 *
 * @param options see `BoundedRoutesOptions`
 * @returns the bounding function
 * @example
 * const label = boundedRoutes({ maxRoutes: 2 })
 * label('/a'); label('/b'); label('/c') // '/a', '/b', '__other__'
 * label(undefined) // '__unmatched__'
 */
export function boundedRoutes(options: BoundedRoutesOptions = {}): RouteLabel {
  const maxRoutes = options.maxRoutes ?? 1000
  const maxLength = options.maxLength ?? 256
  for (const [name, value] of [
    ['maxRoutes', maxRoutes],
    ['maxLength', maxLength],
  ] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(`${name} must be a non-negative integer, got ${value}`)
    }
  }
  const seen = new Set<string>()
  return function boundedRoute(route) {
    if (route === undefined || route === '' || route === UNMATCHED_ROUTE) return UNMATCHED_ROUTE
    if (seen.has(route)) return route
    if (route.length > maxLength || seen.size >= maxRoutes) return OVERFLOW_ROUTE
    seen.add(route)
    return route
  }
}
