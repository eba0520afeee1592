/**
 * One route-pattern syntax for every Sturdy package that scopes something by route
 * *before* routing (per-route deadline budgets, the breaker's learned routes, fault
 * injection, limits): the route template is only known after `next()`, so these match
 * the request's method and raw path against patterns written like the router's.
 *
 * Syntax: `[METHOD ]PATH`.
 *
 * - `METHOD` is one request method (case-insensitive), or `*` / nothing for any method.
 * - `PATH` starts with `/`; its segments are
 *   - `users`: exactly that text;
 *   - `:id`: any one non-empty segment;
 *   - `:id{[0-9]+}`: one segment the regular expression matches whole;
 *   - `:id?` (last segment only): one segment, or none;
 *   - `*` (or a named `*rest`) as the last segment: anything from there on, including
 *     nothing (`/files/*` matches `/files` and `/files/a/b.txt`); in the middle, any one
 *     segment.
 *   A lone `*` is `/*`: every path. Empty segments (`//`, a trailing `/`) are ignored.
 *
 * Precedence, when several patterns match: the most specific path wins, compared
 * segment by segment from the left (text > `:id{regex}` > `:id` > `:id?` > `*`, and a
 * path that ends beats one that goes on with `*`); for the same path shape a pattern
 * naming the method beats an any-method one; after that, the pattern added first wins.
 * So the order you list patterns in matters only between equally specific ones.
 */

/** Options of `routeMatcher()`. */
export interface RouteMatcherOptions {
  /**
   * Most patterns kept: `add()` refuses more (returns false). Bound it when patterns
   * come from traffic (learned routes), not from your code.
   * @default Infinity
   */
  maxRoutes?: number
  /**
   * Remember this many `match()` answers (per method and path), for large tables on
   * hot paths. Adding a pattern clears it.
   * @default 0 (no cache)
   */
  cacheSize?: number
}

/** Patterns compiled for matching; see `routeMatcher()`. */
export interface RouteMatcher<T> {
  /**
   * Adds a pattern with its value. A pattern already present keeps its first value.
   *
   * @returns false when the matcher is full (`maxRoutes`), true otherwise
   * @throws RangeError for a pattern that is not `[METHOD ]/path` or has a bad regex
   */
  add(pattern: string, value: T): boolean
  /** The value of the best pattern for this request, or undefined when none matches. */
  match(method: string, path: string): T | undefined
  /** How many patterns it holds. */
  readonly size: number
}

/**
 * Compiles route patterns (`GET /users/:id`, `/files/*`, `* /health`) into one matcher:
 * `match(method, path)` returns the value of the most specific matching pattern. The
 * syntax and precedence are documented at the top of this file and in
 * `docs/architecture.md`. Matching allocates nothing (except to test a `{regex}`
 * segment).
 *
 * @param routes pattern and value pairs (`Object.entries({...})`, a Map, an array)
 * @param options see `RouteMatcherOptions`
 * @returns the matcher; `add()` more patterns later (a learned route)
 * @example
 * const budgets = routeMatcher(Object.entries({ 'POST /upload': 30_000, '/users/:id': 50 }))
 * budgets.match('POST', '/upload') // 30000
 * budgets.match('GET', '/users/7') // 50
 * budgets.match('GET', '/upload') // undefined
 */
export function routeMatcher<T>(
  routes: Iterable<readonly [pattern: string, value: T]> = [],
  options: RouteMatcherOptions = {},
): RouteMatcher<T> {
  const matcher = new PatternList<T>(
    options.maxRoutes ?? Number.POSITIVE_INFINITY,
    options.cacheSize ?? 0,
  )
  for (const [pattern, value] of routes) matcher.add(pattern, value)
  return matcher
}

/** Segment kinds, most specific first. */
const STATIC = 0
const REGEX = 1
const PARAM = 2
const OPTIONAL = 3
const ANY_SEGMENT = 4
const REST = 5
/** Where a pattern has no more segments: more specific than any segment. */
const END = -1

interface Segment {
  readonly kind: number
  readonly text: string
  readonly re: RegExp | undefined
}

interface Compiled<T> {
  readonly id: string
  /** Upper-case method, or undefined for any. */
  readonly method: string | undefined
  readonly segments: readonly Segment[]
  readonly order: number
  readonly value: T
}

const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

class PatternList<T> implements RouteMatcher<T> {
  readonly #patterns: Compiled<T>[] = []
  readonly #ids = new Set<string>()
  readonly #max: number
  readonly #cacheSize: number
  readonly #cache = new Map<string, Map<string, Compiled<T> | null>>()
  #cached = 0
  #added = 0

  constructor(max: number, cacheSize: number) {
    this.#max = max
    this.#cacheSize = cacheSize
  }

  get size(): number {
    return this.#patterns.length
  }

  add(pattern: string, value: T): boolean {
    const { method, path } = splitPattern(pattern)
    const id = `${method ?? '*'} ${path}`
    if (this.#ids.has(id)) return true
    if (this.#patterns.length >= this.#max) return false
    const compiled: Compiled<T> = {
      id,
      method,
      segments: compilePath(path, pattern),
      order: this.#added++,
      value,
    }
    this.#ids.add(id)
    this.#patterns.push(compiled)
    this.#patterns.sort(byPrecedence)
    // A new pattern may be the better answer for remembered requests.
    this.#cache.clear()
    this.#cached = 0
    return true
  }

  match(method: string, path: string): T | undefined {
    if (this.#cacheSize === 0) return this.#find(method, path)?.value
    let byPath = this.#cache.get(method)
    const hit = byPath?.get(path)
    if (hit !== undefined) return hit === null ? undefined : hit.value
    const found = this.#find(method, path)
    if (this.#cached >= this.#cacheSize) {
      // Full: forget the oldest answer of this method (cheap; a miss costs one scan).
      const oldest = byPath?.keys().next()
      if (oldest !== undefined && oldest.done !== true) {
        byPath?.delete(oldest.value)
        this.#cached--
      } else {
        this.#cache.clear()
        this.#cached = 0
        byPath = undefined
      }
    }
    if (byPath === undefined) {
      byPath = new Map()
      this.#cache.set(method, byPath)
    }
    byPath.set(path, found ?? null)
    this.#cached++
    return found?.value
  }

  #find(method: string, path: string): Compiled<T> | undefined {
    let upper: string | undefined
    for (const p of this.#patterns) {
      if (p.method !== undefined && p.method !== method) {
        upper ??= method.toUpperCase()
        if (p.method !== upper) continue
      }
      if (matchesPath(p.segments, path)) return p
    }
    return undefined
  }
}

function splitPattern(pattern: string): { method: string | undefined; path: string } {
  const trimmed = pattern.trim()
  const space = trimmed.search(/\s/)
  let method: string | undefined
  let path = trimmed
  if (space !== -1) {
    const token = trimmed.slice(0, space)
    path = trimmed.slice(space).trim()
    if (!METHOD_TOKEN.test(token)) throw badPattern(pattern, 'the method is not a method name')
    method = token === '*' ? undefined : token.toUpperCase()
  }
  if (path === '*') path = '/*'
  if (!path.startsWith('/')) throw badPattern(pattern, 'the path must start with "/"')
  return { method, path }
}

function compilePath(path: string, pattern: string): Segment[] {
  const parts = path.split('/').filter((p) => p !== '')
  return parts.map((text, i): Segment => {
    const last = i === parts.length - 1
    if (text.startsWith('*')) {
      return { kind: last ? REST : ANY_SEGMENT, text, re: undefined }
    }
    if (!text.startsWith(':')) return { kind: STATIC, text, re: undefined }
    const brace = text.indexOf('{')
    if (brace > 0 && text.endsWith('}')) {
      let re: RegExp
      try {
        re = new RegExp(`^(?:${text.slice(brace + 1, -1)})$`)
      } catch (error) {
        throw badPattern(pattern, `bad regular expression in ${text}`, error)
      }
      return { kind: REGEX, text, re }
    }
    if (text.endsWith('?')) {
      if (!last) throw badPattern(pattern, `optional ${text} must be the last segment`)
      return { kind: OPTIONAL, text, re: undefined }
    }
    return { kind: PARAM, text, re: undefined }
  })
}

function badPattern(pattern: string, why: string, cause?: unknown): RangeError {
  return new RangeError(
    `route pattern ${JSON.stringify(pattern)}: ${why} (expected "[METHOD ]/path")`,
    cause === undefined ? undefined : { cause },
  )
}

const SLASH = 47

/** Walks `path` segment by segment, by index: no array, no substring (but for a regex). */
function matchesPath(segments: readonly Segment[], path: string): boolean {
  const n = path.length
  let pos = 0
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as Segment
    if (s.kind === REST) return true
    while (pos < n && path.charCodeAt(pos) === SLASH) pos++
    if (pos >= n) return s.kind === OPTIONAL
    let end = path.indexOf('/', pos)
    if (end === -1) end = n
    if (s.kind === STATIC) {
      if (end - pos !== s.text.length || !path.startsWith(s.text, pos)) return false
    } else if (s.kind === REGEX) {
      if (!(s.re as RegExp).test(path.slice(pos, end))) return false
    }
    pos = end
  }
  while (pos < n && path.charCodeAt(pos) === SLASH) pos++
  return pos >= n
}

function byPrecedence<T>(a: Compiled<T>, b: Compiled<T>): number {
  const n = Math.max(a.segments.length, b.segments.length)
  for (let i = 0; i < n; i++) {
    const ka = a.segments[i]?.kind ?? END
    const kb = b.segments[i]?.kind ?? END
    if (ka !== kb) return ka - kb
  }
  const ma = a.method === undefined ? 1 : 0
  const mb = b.method === undefined ? 1 : 0
  return ma !== mb ? ma - mb : a.order - b.order
}
