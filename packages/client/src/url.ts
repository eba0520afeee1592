/**
 * Splitting a call's URL into origin and request target without building a `URL` per
 * call (about a microsecond each): the common shapes (`http://host:port/path?q`, and
 * `/path` against a `baseUrl`) are split by hand and checked; anything else goes
 * through the WHATWG parser, whose answer is the reference.
 */

/** A call's destination: the origin as written (the pool key) and the target as sent. */
export interface Split {
  /** The origin as it appeared (`http://Example.com:80`); normalized once per origin. */
  readonly origin: string
  /** Path and query, never empty, no fragment. */
  readonly target: string
}

/** A parsed `baseUrl`. */
export interface Base {
  readonly href: string
  readonly origin: string
  /** The base path up to and including its last `/`, for relative references. */
  readonly directory: string
}

/** Printable ASCII without space: what a request target may hold as sent. */
const SAFE_TARGET = /^[\x21-\x7e]*$/

/**
 * Parses a `baseUrl` option.
 *
 * @param baseUrl an absolute http(s) URL
 * @returns the parsed base
 */
export function parseBase(baseUrl: string | URL): Base {
  const url = new URL(String(baseUrl))
  checkUrl(url)
  const path = url.pathname
  return {
    href: url.href,
    origin: url.origin,
    directory: path.slice(0, path.lastIndexOf('/') + 1),
  }
}

/**
 * Splits `input` into origin and target.
 *
 * @param input the call's URL: absolute, or relative to `base`
 * @param base the client's `baseUrl`, if any
 * @returns origin and target
 * @throws TypeError for URLs that are not http(s), carry credentials, or are relative
 *   without a `baseUrl`
 */
export function splitUrl(input: string | URL, base: Base | undefined): Split {
  if (typeof input !== 'string') return fromUrl(input)
  const c0 = input.charCodeAt(0)
  if (c0 === 104 /* h */) {
    const start = input.startsWith('http://') ? 7 : input.startsWith('https://') ? 8 : -1
    if (start > 0) {
      let end = start
      const n = input.length
      while (end < n) {
        const c = input.charCodeAt(end)
        if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) break
        // Credentials, IPv6 literals and escapes: let the parser decide.
        if (c === 64 /* @ */ || c === 91 /* [ */ || c === 37 /* % */ || c === 92 /* \ */) {
          return slow(input, base)
        }
        end++
      }
      if (end > start) {
        const target = targetOf(input, end)
        if (target !== undefined) return { origin: input.slice(0, end), target }
      }
      return slow(input, base)
    }
  }
  if (base !== undefined) {
    if (c0 === 47 /* / */ && input.charCodeAt(1) !== 47) {
      const target = targetOf(input, 0)
      if (target !== undefined) return { origin: base.origin, target }
    } else if (c0 !== 46 /* . */ && c0 !== 63 /* ? */ && c0 !== 35 /* # */ && !hasScheme(input)) {
      const target = targetOf(input, 0)
      if (target !== undefined) return { origin: base.origin, target: base.directory + target }
    }
  }
  return slow(input, base)
}

/** The target from `from` on: `/` when only a query follows, fragment dropped. */
function targetOf(input: string, from: number): string | undefined {
  let end = input.indexOf('#', from)
  if (end < 0) end = input.length
  let target = input.slice(from, end)
  if (target === '') target = '/'
  else if (target.charCodeAt(0) === 63 /* ? */) target = `/${target}`
  if (!SAFE_TARGET.test(target) || target.includes('/.') || target.includes('\\')) {
    return undefined // dot segments and the rest are the parser's job
  }
  return target
}

function hasScheme(input: string): boolean {
  const colon = input.indexOf(':')
  if (colon < 0) return false
  const slash = input.indexOf('/')
  return slash < 0 || colon < slash
}

function slow(input: string, base: Base | undefined): Split {
  let url: URL
  try {
    url = base === undefined ? new URL(input) : new URL(input, base.href)
  } catch {
    throw new TypeError(
      base === undefined
        ? `Invalid URL ${JSON.stringify(input)} (relative URLs need the client's baseUrl)`
        : `Invalid URL ${JSON.stringify(input)}`,
    )
  }
  return fromUrl(url)
}

function fromUrl(url: URL): Split {
  checkUrl(url)
  return { origin: url.origin, target: `${url.pathname}${url.search}` }
}

function checkUrl(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`Only http: and https: URLs are supported, got ${url.protocol}`)
  }
  if (url.username !== '' || url.password !== '') {
    // fetch refuses these too: credentials belong in a header, not in logs and spans.
    throw new TypeError('URLs with credentials are not supported; send an Authorization header')
  }
}

/** The normalized parts of an origin, computed once per origin. */
export interface OriginParts {
  /** `http://host:port` as the WHATWG parser writes it (default ports omitted). */
  readonly origin: string
  readonly scheme: 'http' | 'https'
  /** Host name or IP, no brackets. */
  readonly host: string
  readonly port: number
}

/**
 * Normalizes an origin as written.
 *
 * @param origin e.g. `http://Example.com:80`
 * @returns the normalized parts
 */
export function originParts(origin: string): OriginParts {
  const url = new URL(origin)
  checkUrl(url)
  const scheme = url.protocol === 'https:' ? 'https' : 'http'
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname
  const port = url.port === '' ? (scheme === 'https' ? 443 : 80) : Number(url.port)
  return { origin: url.origin, scheme, host, port }
}

/**
 * The URL for messages: origin and path, the query left out (it may hold secrets).
 *
 * @param origin the normalized origin
 * @param target path and query
 * @returns `origin + path`
 */
export function displayUrl(origin: string, target: string): string {
  const q = target.indexOf('?')
  return origin + (q < 0 ? target : target.slice(0, q))
}
