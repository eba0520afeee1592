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

/**
 * Turns any thrown value into a problem that is safe to send: a Sturdy error keeps its
 * status, code and (when exposable) message and field issues; anything else becomes a
 * bare 500 with no detail, so internals never leak.
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
  return problem
}

/**
 * The headers a problem response needs besides its content type: `Retry-After` in whole
 * seconds (at least 1) when the error or problem carries a finite `retryAfterMs`, as
 * `BrokenCircuitError` and the breaker middleware's problems do. Empty otherwise.
 *
 * @param source the thrown value or the problem being sent
 * @returns headers to add to the response
 * @example
 * problemHeaders(new BrokenCircuitError(...)) // { 'retry-after': '30' }
 */
export function problemHeaders(source: unknown): Record<string, string> {
  const ms =
    typeof source === 'object' && source !== null
      ? (source as { retryAfterMs?: unknown }).retryAfterMs
      : undefined
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return {}
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) }
}

/** Serializes a problem as JSON (a stack property, if any slipped in, is dropped). */
export function renderProblem(problem: Problem): string {
  return JSON.stringify(problem, (key, value) => (key === 'stack' ? undefined : value))
}
