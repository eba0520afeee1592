/**
 * Route templates learned from finished requests, so the server middleware can find a
 * request's route *before* `next()` (the Exchange only knows `route()` after it).
 *
 * Templates come from `ex.route()`, so they are bounded by the app's routes, never by
 * raw paths. Matching understands the common router syntax: `:param`, `:param?`,
 * `:param{regex}` (one segment) and a trailing `*`; the most specific template wins
 * (static segment > regex param > param > wildcard). A path → template cache keeps the
 * hot path to one Map lookup.
 */
export class RouteTemplates {
  readonly #byMethod = new Map<string, Template[]>()
  readonly #known = new Set<string>()
  readonly #cache = new Map<string, string | null>()
  readonly #maxTemplates: number
  readonly #maxCache: number

  constructor(maxTemplates: number, maxCache: number) {
    this.#maxTemplates = maxTemplates
    this.#maxCache = maxCache
  }

  /** Templates learned so far. */
  get size(): number {
    return this.#known.size
  }

  /** Remembers that `method` + `template` is a route; returns false when full. */
  learn(method: string, template: string): boolean {
    const id = `${method} ${template}`
    if (this.#known.has(id)) return true
    if (this.#known.size >= this.#maxTemplates) return false
    this.#known.add(id)
    const list = this.#byMethod.get(method) ?? []
    list.push(compile(template))
    list.sort(bySpecificity)
    this.#byMethod.set(method, list)
    // A new template may now be the better match for cached paths.
    this.#cache.clear()
    return true
  }

  /** The learned template `path` belongs to, for `method`, or undefined. */
  match(method: string, path: string): string | undefined {
    const id = `${method} ${path}`
    const hit = this.#cache.get(id)
    if (hit !== undefined) return hit ?? undefined
    const list = this.#byMethod.get(method)
    let found: string | undefined
    if (list !== undefined) {
      const segments = split(path)
      for (const t of list) {
        if (matches(t, segments)) {
          found = t.template
          break
        }
      }
    }
    // FIFO bound: cheap, and a miss only costs one template scan.
    if (this.#cache.size >= this.#maxCache) {
      const first = this.#cache.keys().next()
      if (first.done !== true) this.#cache.delete(first.value)
    }
    this.#cache.set(id, found ?? null)
    return found
  }
}

/** Segment kinds, in order of decreasing specificity. */
const Kind = { Static: 0, Regex: 1, Param: 2, Optional: 3, Wildcard: 4 } as const
type Kind = (typeof Kind)[keyof typeof Kind]

interface Segment {
  readonly kind: Kind
  readonly text: string
  readonly re: RegExp | undefined
}

interface Template {
  readonly template: string
  readonly segments: readonly Segment[]
}

function split(path: string): string[] {
  return path.split('/').filter((p) => p !== '')
}

function compile(template: string): Template {
  const segments = split(template).map((text): Segment => {
    if (text === '*') return { kind: Kind.Wildcard, text, re: undefined }
    if (!text.startsWith(':')) return { kind: Kind.Static, text, re: undefined }
    const brace = text.indexOf('{')
    if (brace > 0 && text.endsWith('}')) {
      try {
        return { kind: Kind.Regex, text, re: new RegExp(`^(?:${text.slice(brace + 1, -1)})$`) }
      } catch {
        return { kind: Kind.Param, text, re: undefined }
      }
    }
    return { kind: text.endsWith('?') ? Kind.Optional : Kind.Param, text, re: undefined }
  })
  return { template, segments }
}

function matches(t: Template, path: readonly string[]): boolean {
  const segs = t.segments
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] as Segment
    const p = path[i]
    if (s.kind === Kind.Wildcard) return true
    if (p === undefined) return s.kind === Kind.Optional && i === segs.length - 1
    if (s.kind === Kind.Static && s.text !== p) return false
    if (s.kind === Kind.Regex && !(s.re as RegExp).test(p)) return false
  }
  return path.length === segs.length
}

function bySpecificity(a: Template, b: Template): number {
  const n = Math.max(a.segments.length, b.segments.length)
  for (let i = 0; i < n; i++) {
    const ka = a.segments[i]?.kind ?? -1
    const kb = b.segments[i]?.kind ?? -1
    if (ka !== kb) return ka - kb
  }
  return 0
}
