/**
 * What a server said about retrying: wait this many ms, or `'stop'` (do not retry), or
 * nothing (`undefined`, the backoff decides).
 */
export type Pushback = number | 'stop' | undefined

/** Headers as fetch (`Headers`), gRPC metadata (`get` → array) or Node (`record`) carry them. */
export type HeadersLike =
  | { get(name: string): unknown }
  | Readonly<Record<string, string | readonly string[] | undefined>>

const IMF_FIXDATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/
const RFC850_DATE = /^[A-Za-z]+, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/**
 * Parses a `Retry-After` value: delay-seconds or an HTTP-date (IMF-fixdate, and the
 * obsolete RFC 850 and asctime forms RFC 9110 says recipients must accept).
 *
 * Only those grammars are accepted: `Date.parse` alone would read `"5.5"` as a date in May.
 *
 * @param value the header value
 * @param nowEpochMs wall-clock time (ms since the epoch) to measure an HTTP-date from
 * @returns the delay in ms (0 for a date in the past), or undefined when unparseable
 * @see https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 * @example
 * parseRetryAfter('120', Date.now()) // 120000
 * parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.now()) // 0 (in the past)
 */
export function parseRetryAfter(value: string, nowEpochMs: number): number | undefined {
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  let at: number
  if (IMF_FIXDATE.test(v) || RFC850_DATE.test(v)) at = Date.parse(v)
  // asctime has no zone; HTTP dates are always UTC, so say so or it parses as local time.
  else if (ASCTIME_DATE.test(v)) at = Date.parse(`${v.replace(/ {2}/, ' ')} GMT`)
  else return undefined
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowEpochMs)
}

/**
 * Parses `grpc-retry-pushback-ms` the way gRFC A6 reads it: a non-negative integer is the
 * delay before the next attempt; a negative or unparseable value means "do not retry".
 *
 * @param value the metadata value
 * @returns the delay in ms, or `'stop'`
 * @see https://github.com/grpc/proposal/blob/master/A6-client-retries.md#pushback
 * @example
 * parseGrpcPushback('250') // 250
 * parseGrpcPushback('-1') // 'stop'
 */
export function parseGrpcPushback(value: string): number | 'stop' {
  const v = value.trim()
  if (!/^-?\d+$/.test(v)) return 'stop'
  const ms = Number(v)
  return ms < 0 ? 'stop' : ms
}

/**
 * Reads server pushback from a failed attempt's error or result. Looks, in order, at
 * `grpc-retry-pushback-ms` and `Retry-After` in the value's `headers`,
 * `response.headers` or `metadata` (fetch `Response`, HTTP client errors, Connect/gRPC
 * errors), then at a numeric `retryAfterMs` property. The retry policy never asks it
 * about a circuit breaker's rejection (which carries `retryAfterMs` too): an open
 * circuit fails the call at once instead (see the README, "In front of a circuit breaker").
 *
 * @param value the attempt's error, or its result when retrying on results
 * @param nowEpochMs wall-clock time, for `Retry-After` dates
 * @returns the pushback, or undefined when the server said nothing
 * @example
 * readPushback(new Response(null, { status: 503, headers: { 'retry-after': '2' } }), Date.now()) // 2000
 */
export function readPushback(value: unknown, nowEpochMs: number): Pushback {
  if (typeof value !== 'object' || value === null) return undefined
  const v = value as {
    headers?: unknown
    response?: { headers?: unknown } | null
    metadata?: unknown
    retryAfterMs?: unknown
  }
  for (const headers of [v.headers, v.response?.headers, v.metadata]) {
    if (typeof headers !== 'object' || headers === null) continue
    const grpc = headerValue(headers as HeadersLike, 'grpc-retry-pushback-ms')
    if (grpc !== undefined) return parseGrpcPushback(grpc)
    const after = headerValue(headers as HeadersLike, 'retry-after')
    if (after !== undefined) {
      const ms = parseRetryAfter(after, nowEpochMs)
      if (ms !== undefined) return ms
    }
  }
  const ms = v.retryAfterMs
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined
}

/**
 * One header's value from any `HeadersLike`, first value when there are several.
 *
 * @param headers fetch `Headers`, gRPC `Metadata`, or a Node-style record
 * @param name lower-case header name
 * @returns the value, or undefined
 * @example headerValue({ 'idempotency-key': 'k1' }, 'idempotency-key') // 'k1'
 */
export function headerValue(headers: HeadersLike, name: string): string | undefined {
  let raw: unknown
  if (typeof (headers as { get?: unknown }).get === 'function') {
    raw = (headers as { get(name: string): unknown }).get(name)
  } else {
    const record = headers as Record<string, unknown>
    raw = record[name]
    if (raw === undefined) {
      // Plain records are not normalised (fetch-style init objects keep their casing).
      const key = Object.keys(record).find((k) => k.toLowerCase() === name)
      raw = key === undefined ? undefined : record[key]
    }
  }
  if (Array.isArray(raw)) raw = raw[0]
  if (typeof raw === 'string') return raw
  if (raw instanceof Uint8Array) return undefined
  return raw === undefined || raw === null ? undefined : String(raw)
}
