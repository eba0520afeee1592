import { routeMatcher } from '@sturdy/core'

/**
 * Compiles route patterns into one test of a request's method and raw path, run before
 * `next()` (the route template is only known after it). The syntax is core's
 * `routeMatcher`: `GET /users/:id`, `/files/*` (any method), `*` (every request).
 *
 * @param patterns the patterns; undefined scopes nothing out
 * @returns the test, or undefined when every request is in scope
 * @throws RangeError for a malformed pattern
 */
export function routeScope(
  patterns: readonly string[] | undefined,
): ((method: string, path: string) => boolean) | undefined {
  if (patterns === undefined) return undefined
  if (!Array.isArray(patterns)) throw new TypeError('routes must be an array of patterns')
  for (const p of patterns) {
    if (typeof p !== 'string')
      throw new TypeError(`route pattern must be a string, got ${String(p)}`)
  }
  // "Everything" needs no match per request.
  if (patterns.some((p) => ['*', '/*', '* *', '* /*'].includes(p.trim()))) return undefined
  const matcher = routeMatcher(patterns.map((p) => [p, true] as const))
  return function inScope(method, path) {
    return matcher.match(method, path) === true
  }
}
