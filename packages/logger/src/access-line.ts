import type { AbortKind, ChaosMark, Exchange } from '@sturdy/core'
import { abortKind, isSturdyError, VALUES } from '@sturdy/core'
import type { Logger } from 'pino'
import type { AccessOutcome, LoggerSettings } from './logger-options.ts'
import { callSafely } from './safe-call.ts'
import { isDeliberate, serializeError } from './serialize-error.ts'

/** Messages of the access line, by outcome. */
export const ACCESS_MESSAGES: {
  readonly completed: 'request completed'
  readonly failed: 'request failed'
  readonly aborted: 'request aborted'
} = { completed: 'request completed', failed: 'request failed', aborted: 'request aborted' }

/** Each outcome's message; its level comes from `levels`, keyed the same way. */
const MESSAGES: Readonly<Record<AccessOutcome, string>> = {
  success: ACCESS_MESSAGES.completed,
  clientError: ACCESS_MESSAGES.completed,
  serverError: ACCESS_MESSAGES.failed,
  aborted: ACCESS_MESSAGES.aborted,
}

/** A value thrown past the framework, or `NOT_THROWN`. */
export const NOT_THROWN: unique symbol = Symbol('not thrown') as never

/**
 * Writes the request's one access line:
 * `{ method, route, path, status, duration_ms, res_size?, abort?, err?, headers? }`
 * plus the user's `fields`, at the level of its outcome.
 *
 * @param s the logger's settings
 * @param log the request's child logger
 * @param ex the finished request
 * @param start when the request entered the middleware, on `s.clock`
 * @param thrown what escaped `next()`, or `NOT_THROWN`
 * @param userBound the user's bindings already on `log`, so `fields` cannot repeat them
 */
export function writeAccessLine(
  s: LoggerSettings,
  log: Logger,
  ex: Exchange,
  start: number,
  thrown: unknown,
  userBound: Record<string, unknown> | undefined,
): void {
  const now = s.clock.now()
  // Thrown past the framework (Hono lets non-Error throws escape next()).
  const error = thrown === NOT_THROWN ? ex.error : thrown
  let status = statusOf(ex, thrown)
  let abort = abortOf(ex, status, now)
  if (abort === 'client-disconnect' && !s.detectClientAbort) abort = undefined
  const clientGone = abort === 'client-disconnect'
  // 499 is nginx's "client closed request": the response was never delivered, so its
  // status (often a 500 from the aborted work) would mislead.
  if (clientGone) status = 499
  const outcome = outcomeOf(status, clientGone)
  const level = s.levels[outcome]
  if (level === 'silent') return

  // Built once, with every key present; pino skips the undefined ones.
  const line: Record<string, unknown> = {
    method: ex.method,
    route: ex.route(),
    path: ex.path,
    status,
    duration_ms: Math.round((now - start) * 1000) / 1000,
    res_size: ex.responseSize,
    abort,
    err:
      error === undefined || clientGone
        ? undefined
        : serializeError(error, status >= 500 && !isDeliberate(error)),
    headers: s.headerNames.length === 0 ? undefined : pickHeaders(ex, s.headerNames),
    // Faults @sturdy/chaos injected: the line says the request was a drill.
    chaos: ex.get<readonly ChaosMark[]>(VALUES.chaos),
  }
  if (s.fields !== undefined) addFields(line, callSafely(s.fields, ex), s.reserved, userBound)
  log[level](line, MESSAGES[outcome])
}

/**
 * Why the request ended early, if it did, without creating the request signal. The
 * signal's reason says it when it has aborted. `deadline()` answers its 504 at once and
 * aborts the signal only a macrotask later (docs/timeout.md), so a logger mounted
 * outside it sees the 504 first: a 504 (or the 408 of a body still arriving) once the
 * request's deadline has passed is the deadline's.
 */
function abortOf(ex: Exchange, status: number, now: number): AbortKind | undefined {
  if (ex.aborted) return abortKind(ex.signal.reason)
  const deadline = ex.deadline
  return DEADLINE_STATUSES.has(status) && deadline !== undefined && now >= deadline
    ? 'deadline'
    : undefined
}

/** What `deadline()` answers: 504, or 408 when the request body was still arriving. */
const DEADLINE_STATUSES: ReadonlySet<number> = new Set([504, 408])

/** The response's status; for a value thrown past the framework, 500 or a Sturdy error's own. */
function statusOf(ex: Exchange, thrown: unknown): number {
  if (thrown === NOT_THROWN) return ex.status
  return isSturdyError(thrown) ? thrown.status : 500
}

function outcomeOf(status: number, clientGone: boolean): AccessOutcome {
  if (clientGone) return 'aborted'
  if (status >= 500) return 'serverError'
  if (status >= 400) return 'clientError'
  return 'success'
}

function addFields(
  line: Record<string, unknown>,
  extra: Record<string, unknown> | undefined,
  reserved: ReadonlySet<string>,
  userBound: Record<string, unknown> | undefined,
): void {
  if (typeof extra !== 'object' || extra === null) return
  for (const key in extra) {
    if (!reserved.has(key) && (userBound === undefined || !(key in userBound))) {
      line[key] = extra[key]
    }
  }
}

function pickHeaders(ex: Exchange, names: readonly string[]): Record<string, string> | undefined {
  let out: Record<string, string> | undefined
  for (const name of names) {
    const value = ex.header(name)
    if (value !== undefined) {
      out ??= {}
      out[name] = value
    }
  }
  return out
}
