/**
 * Compiles route patterns into one test of a request's method and raw path, run before
 * `next()` (the route template is only known after it).
 *
 * A pattern is `[METHOD ]PATH`: `GET /users/:id`, `/files/*` (any method), `*` (every
 * request). `METHOD` is a method name or `*`; in `PATH`, `:name` is one segment and a `*`
 * segment is anything from there on (a trailing `/*` also matches the bare prefix).
 *
 * This is the one place chaos scopes routes; it gives way to core's shared route matcher
 * when that exists.
 *
 * @param patterns the patterns; undefined scopes nothing out
 * @returns the test, or undefined when every request is in scope
 */
export function routeScope(
  patterns: readonly string[] | undefined,
): ((method: string, path: string) => boolean) | undefined {
  if (patterns === undefined) return undefined
  if (!Array.isArray(patterns)) throw new TypeError('routes must be an array of patterns')
  const rules = patterns.map(compile)
  if (rules.some((r) => r.method === undefined && r.path === undefined)) return undefined
  return function inScope(method, path) {
    const m = method.toUpperCase()
    for (const rule of rules) {
      if (rule.method !== undefined && rule.method !== m) continue
      if (rule.path === undefined || rule.path.test(path)) return true
    }
    return false
  }
}

interface Rule {
  /** Upper-case method, or undefined for any. */
  readonly method: string | undefined
  /** Anchored path test, or undefined for any path. */
  readonly path: RegExp | undefined
}

const METHOD = /^[A-Za-z]+$/

function compile(pattern: unknown): Rule {
  if (typeof pattern !== 'string' || pattern.trim() === '') {
    throw new TypeError(`route pattern must be a non-empty string, got ${JSON.stringify(pattern)}`)
  }
  const parts = pattern.trim().split(/\s+/)
  if (parts.length > 2) throw new TypeError(`route pattern "${pattern}": expected "[METHOD ]PATH"`)
  const [first, second] = parts as [string, string | undefined]
  const methodPart = second === undefined ? '*' : first
  const pathPart = second ?? first
  if (methodPart !== '*' && !METHOD.test(methodPart)) {
    throw new TypeError(`route pattern "${pattern}": bad method "${methodPart}"`)
  }
  if (pathPart !== '*' && !pathPart.startsWith('/')) {
    throw new TypeError(`route pattern "${pattern}": the path must start with "/" or be "*"`)
  }
  return {
    method: methodPart === '*' ? undefined : methodPart.toUpperCase(),
    path: pathPart === '*' ? undefined : templateToRegExp(pathPart),
  }
}

function templateToRegExp(template: string): RegExp {
  const segments = template.split('/').slice(1)
  let source = ''
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string
    if (segment === '*') {
      // Anything from here on; `/files/*` also matches `/files`.
      source += i === segments.length - 1 ? '(?:/.*)?' : '/.*'
      continue
    }
    source += '/'
    source += segment.startsWith(':') ? '[^/]+' : escapeRegExp(segment)
  }
  return new RegExp(`^${source === '' ? '/' : source}$`)
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
