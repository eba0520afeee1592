/**
 * Deadline headers on the wire. A caller says how long it will wait; the callee takes
 * that into its own deadline. Three spellings exist in the wild and a server reads all
 * of them (smallest wins); a client writes the one its callee speaks.
 */

/**
 * The plain HTTP header Sturdy reads and writes: the caller's remaining budget in
 * whole milliseconds, e.g. `x-request-timeout-ms: 1500` (same syntax as Connect's
 * `connect-timeout-ms`: 1–10 ASCII digits).
 *
 * @example
 * headers.set(TIMEOUT_HEADER, '1500') // or stampDeadline(headers, 1500)
 */
export const TIMEOUT_HEADER = 'x-request-timeout-ms'

/**
 * gRPC's deadline header (`TimeoutValue TimeoutUnit`, e.g. `250m`).
 *
 * @example
 * const ms = parseGrpcTimeout(req.headers.get(GRPC_TIMEOUT_HEADER))
 */
export const GRPC_TIMEOUT_HEADER = 'grpc-timeout'

/**
 * The Connect protocol's deadline header (unary and streaming), in ms.
 *
 * @example
 * const ms = parseTimeoutMs(req.headers.get(CONNECT_TIMEOUT_HEADER))
 */
export const CONNECT_TIMEOUT_HEADER = 'connect-timeout-ms'

/** Milliseconds per `grpc-timeout` unit. */
const GRPC_UNITS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
}

const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/
const DECIMAL_MS = /^\d{1,10}$/
const GRPC_MAX = 99_999_999
const DECIMAL_MAX = 9_999_999_999

/**
 * Parses a `grpc-timeout` value: 1–8 ASCII digits and a unit, `H` hours, `M` minutes,
 * `S` seconds, `m` ms, `u` µs, `n` ns (gRPC over HTTP/2, "Timeout").
 *
 * @param value the header value, or undefined/null when absent
 * @returns the timeout in ms (fractional for `u`/`n`), or undefined when absent or malformed
 * @example
 * parseGrpcTimeout('250m') // 250
 * parseGrpcTimeout('1S') // 1000
 * parseGrpcTimeout('100000000n') // undefined: more than 8 digits
 */
export function parseGrpcTimeout(value: string | null | undefined): number | undefined {
  if (value == null) return undefined
  const match = GRPC_TIMEOUT.exec(value)
  if (match === null) return undefined
  return Number(match[1]) * (GRPC_UNITS[match[2] as string] as number)
}

/**
 * Formats ms as a `grpc-timeout` value in the finest unit that fits in 8 digits (as
 * grpc-go does), rounded down so the callee is never promised more than is left.
 *
 * @param ms the budget in ms; 0 or less gives `0n`
 * @returns the header value, e.g. `50000000n` for 50 ms or `1500000u` for 1.5 s
 * @example
 * formatGrpcTimeout(1500) // '1500000u'
 * formatGrpcTimeout(36_000_000_000) // '10000H'
 */
export function formatGrpcTimeout(ms: number): string {
  if (!(ms > 0)) return '0n'
  // Multiply by integer factors (not divide by 0.001...) to keep float error tiny; the
  // epsilon stops 4.35 ms from coming out as 4349999n.
  const units: ReadonlyArray<readonly [number, string]> = [
    [ms * 1e6, 'n'],
    [ms * 1e3, 'u'],
    [ms, 'm'],
    [ms / 1e3, 'S'],
    [ms / 6e4, 'M'],
    [ms / 3.6e6, 'H'],
  ]
  for (const [value, unit] of units) {
    const whole = Math.floor(value + 1e-6)
    if (whole <= GRPC_MAX) return `${whole}${unit}`
  }
  return `${GRPC_MAX}H`
}

/**
 * Parses a decimal milliseconds header (`connect-timeout-ms`, `x-request-timeout-ms`):
 * 1–10 ASCII digits, nothing else.
 *
 * @param value the header value, or undefined/null when absent
 * @returns the timeout in ms, or undefined when absent or malformed
 * @example
 * parseTimeoutMs('1500') // 1500
 * parseTimeoutMs('1.5') // undefined
 */
export function parseTimeoutMs(value: string | null | undefined): number | undefined {
  if (value == null || !DECIMAL_MS.test(value)) return undefined
  return Number(value)
}

/** Which incoming deadline headers to honour. */
export interface IncomingTimeoutOptions {
  /**
   * Read `grpc-timeout`.
   * @default true
   */
  grpc?: boolean
  /**
   * Read `connect-timeout-ms`.
   * @default true
   */
  connect?: boolean
  /**
   * The plain header to read, or `false` for none.
   * @default 'x-request-timeout-ms'
   */
  header?: string | false
}

/**
 * Where incoming headers are read from: a lookup function, a `Headers`-like object
 * (`get`), or anything with a `header(name)` method, such as a Sturdy `Exchange`.
 */
export type HeaderSource =
  | ((name: string) => string | null | undefined)
  | { header(name: string): string | null | undefined }
  | { get(name: string): string | null | undefined }

/**
 * The smallest budget the caller sent in any honoured header. Malformed values are
 * ignored, never thrown.
 *
 * @param headers a lookup function, a `Headers` object, or an `Exchange`
 * @param options see `IncomingTimeoutOptions`
 * @returns the incoming budget in ms, or undefined when the caller sent none
 * @example
 * const budget = readIncomingTimeout(request.headers) // or readIncomingTimeout(ex)
 */
export function readIncomingTimeout(
  headers: HeaderSource,
  options: IncomingTimeoutOptions = {},
): number | undefined {
  let best: number | undefined
  if (options.grpc !== false) best = parseGrpcTimeout(lookup(headers, GRPC_TIMEOUT_HEADER))
  if (options.connect !== false) {
    best = smaller(best, parseTimeoutMs(lookup(headers, CONNECT_TIMEOUT_HEADER)))
  }
  const plain = options.header === undefined ? TIMEOUT_HEADER : options.header
  if (plain !== false) best = smaller(best, parseTimeoutMs(lookup(headers, plain)))
  return best
}

function lookup(headers: HeaderSource, name: string): string | null | undefined {
  if (typeof headers === 'function') return headers(name)
  if ('header' in headers) return headers.header(name)
  return headers.get(name)
}

function smaller(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return a < b ? a : b
}

/** Where `stampDeadline` writes: a `Headers`-like object or a plain header record. */
export type HeaderTarget = { set(name: string, value: string): unknown } | Record<string, unknown>

/** Which deadline headers to write. */
export interface StampOptions {
  /**
   * Write `grpc-timeout` (gRPC and gRPC-Web callees).
   * @default false
   */
  grpc?: boolean
  /**
   * Write `connect-timeout-ms` (Connect protocol callees).
   * @default false
   */
  connect?: boolean
  /**
   * The plain header to write, or `false` for none.
   * @default 'x-request-timeout-ms'
   */
  header?: string | false
}

/**
 * Writes a budget on outgoing request headers, so the callee's deadline middleware (or
 * gRPC/Connect server) gives up when the caller will. Pass the budget from
 * `callBudget()`: what is left of the request's deadline minus a safety margin.
 *
 * Only the plain header is written by default: a plain HTTP callee has no use for gRPC
 * metadata. Sturdy servers read all three, so between Sturdy services the plain header
 * is enough; turn on `grpc` / `connect` for those protocols.
 *
 * @param headers a `Headers` (or anything with `set`), or a plain record (node:http)
 * @param budgetMs the callee's budget in ms; `Infinity` writes nothing. Rounded down to
 *   whole ms (0 tells the callee to give up at once; better not to call at all)
 * @param options see `StampOptions`
 * @returns the whole ms written, or undefined when nothing was (no deadline)
 * @example
 * const headers = new Headers()
 * stampDeadline(headers, callBudget(c.var.deadline), { grpc: true })
 * await fetch(url, { headers, signal: c.var.signal })
 */
export function stampDeadline(
  headers: HeaderTarget,
  budgetMs: number,
  options: StampOptions = {},
): number | undefined {
  if (budgetMs === Number.POSITIVE_INFINITY || Number.isNaN(budgetMs)) return undefined
  const ms = Math.min(DECIMAL_MAX, Math.max(0, Math.floor(budgetMs)))
  const text = String(ms)
  const set =
    typeof headers.set === 'function'
      ? (name: string, value: string): void => {
          ;(headers as { set(name: string, value: string): unknown }).set(name, value)
        }
      : (name: string, value: string): void => {
          ;(headers as Record<string, unknown>)[name] = value
        }
  const plain = options.header === undefined ? TIMEOUT_HEADER : options.header
  if (plain !== false) set(plain, text)
  if (options.connect === true) set(CONNECT_TIMEOUT_HEADER, text)
  if (options.grpc === true) set(GRPC_TIMEOUT_HEADER, formatGrpcTimeout(ms))
  return ms
}
