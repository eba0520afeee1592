/**
 * The request methods OpenTelemetry's HTTP semantic conventions know. Anything else is
 * reported as `_OTHER`, which keeps metric labels and span names bounded.
 */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'QUERY',
  'TRACE',
])

/** The value unknown methods normalize to. */
export const OTHER_METHOD = '_OTHER'

/**
 * Normalizes a request method for metrics and span names: a known method (matched
 * case-insensitively) in upper case, anything else `_OTHER`.
 *
 * @example normalizeMethod('get') // 'GET'; normalizeMethod('PROPFIND') // '_OTHER'
 */
export function normalizeMethod(method: string): string {
  if (KNOWN_METHODS.has(method)) return method
  const upper = method.toUpperCase()
  return KNOWN_METHODS.has(upper) ? upper : OTHER_METHOD
}

/** Idempotent methods: RFC 9110's (safe methods included) and QUERY. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
  'QUERY',
])

/**
 * True for idempotent methods: those RFC 9110 defines (GET, HEAD, OPTIONS, TRACE, PUT,
 * DELETE) and QUERY (safe and idempotent by its IETF draft), matched case-insensitively.
 *
 * @example isIdempotentMethod('put') // true; isIdempotentMethod('POST') // false
 */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase())
}
