import { isSturdyError } from './errors.ts'

/** The media type of RFC 9457 problem details. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/**
 * RFC 9457 problem details. Extension members are allowed; the stack never is.
 */
export interface Problem {
  /** A URI reference naming the problem type; `about:blank` when omitted. */
  type?: string
  title: string
  status: number
  detail?: string
  instance?: string
  [extension: string]: unknown
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/** The standard reason phrase for `status`, or `Error` for one not listed. */
export function statusTitle(status: number): string {
  return TITLES[status] ?? 'Error'
}

/** What `problemResponse()` returns: everything a framework needs to answer. */
export interface ProblemResponse {
  /** The HTTP status (the problem's `status`). */
  status: number
  /** The serialized problem (never a stack). */
  body: string
  /**
   * `content-type: application/problem+json`, plus `retry-after` in whole seconds when
   * the problem carries a finite `retryAfterMs`.
   */
  headers: Record<string, string>
}

/**
 * Renders a problem, or any thrown value, as the response to send. Every problem+json
 * answer Sturdy writes goes through here — core `respondProblem`, the node adapters'
 * error path, Hono's `problemErrorHandler`, the deadline's 504, the breaker's 503 — so
 * they agree on the body, the content type and `Retry-After`.
 *
 * A thrown value becomes a problem through `problemFromError` (unknown errors: a bare
 * 500). A finite, non-negative `retryAfterMs` (a `BrokenCircuitError`'s, or a problem's
 * own) becomes `Retry-After` in whole seconds, rounded up and at least 1, and stays in
 * the body as a whole number of milliseconds; any other `retryAfterMs` is left out.
 *
 * @param source a `Problem`, or anything thrown
 * @returns status, body and headers
 * @example
 * const { status, body, headers } = problemResponse(error)
 * res.writeHead(status, headers).end(body)
 */
export function problemResponse(source: Problem | unknown): ProblemResponse {
  let problem = isProblem(source) ? source : problemFromError(source)
  const headers: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE }
  if ('retryAfterMs' in problem) {
    const ms = finiteRetryAfter(problem.retryAfterMs)
    if (ms === undefined) {
      const { retryAfterMs: _dropped, ...rest } = problem
      problem = rest as Problem
    } else {
      headers['retry-after'] = String(Math.max(1, Math.ceil(ms / 1000)))
      const whole = Math.round(ms)
      if (whole !== problem.retryAfterMs) problem = { ...problem, retryAfterMs: whole }
    }
  }
  return { status: problem.status, body: renderProblem(problem), headers }
}

/**
 * Turns any thrown value into a problem that is safe to send: a Sturdy error keeps its
 * status, code, (when exposable) message, field issues and a finite `retryAfterMs`
 * (as `BrokenCircuitError` carries; rounded to whole ms); anything else becomes a bare 500 with no detail,
 * so internals never leak.
 *
 * @param error anything thrown
 * @returns the problem; render it with `problemResponse`
 * @example
 * problemFromError(new TimeoutError('Deadline of 50 ms exceeded'))
 * // { title: 'Gateway Timeout', status: 504, code: 'TIMEOUT', detail: 'Deadline of 50 ms exceeded' }
 */
export function problemFromError(error: unknown): Problem {
  if (!isSturdyError(error)) return { title: statusTitle(500), status: 500 }
  const problem: Problem = {
    title: statusTitle(error.status),
    status: error.status,
    code: error.code,
  }
  if (error.expose) problem.detail = error.message
  const issues = (error as { issues?: unknown }).issues
  if (Array.isArray(issues) && issues.length > 0) problem.errors = issues
  const retryAfterMs = finiteRetryAfter((error as { retryAfterMs?: unknown }).retryAfterMs)
  if (retryAfterMs !== undefined) problem.retryAfterMs = Math.round(retryAfterMs)
  return problem
}

/**
 * The `Retry-After` header for anything carrying a finite `retryAfterMs`: whole seconds,
 * rounded up, at least 1. Empty otherwise.
 *
 * @deprecated use `problemResponse(source).headers`, which includes it.
 * @param source the thrown value or the problem being sent
 * @returns `{ 'retry-after': seconds }`, or `{}`
 * @example
 * problemHeaders({ retryAfterMs: 1500 }) // { 'retry-after': '2' }
 */
export function problemHeaders(source: unknown): Record<string, string> {
  const ms =
    typeof source === 'object' && source !== null
      ? finiteRetryAfter((source as { retryAfterMs?: unknown }).retryAfterMs)
      : undefined
  return ms === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) }
}

/** Serializes a problem as JSON (a stack property, if any slipped in, is dropped). */
export function renderProblem(problem: Problem): string {
  return JSON.stringify(problem, (key, value) => (key === 'stack' ? undefined : value))
}

/** True for a problem object (not an Error that happens to carry status and title). */
function isProblem(value: unknown): value is Problem {
  return (
    typeof value === 'object' &&
    value !== null &&
    !(value instanceof Error) &&
    typeof (value as Problem).status === 'number' &&
    typeof (value as Problem).title === 'string'
  )
}

function finiteRetryAfter(ms: unknown): number | undefined {
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined
}
