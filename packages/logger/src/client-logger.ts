import type {
  ClientInterceptor,
  IncomingResponse,
  OutgoingRequest,
  RequestValues,
} from '@sturdy/core'
import { outgoingErrorType, requestValue, VALUES } from '@sturdy/core'
import type { Level, LevelWithSilent, Logger } from 'pino'
import { errSerializerFor, serializeError } from './serialize-error.ts'

/** Levels of the lines `clientLogger()` writes. */
export interface ClientLogLevels {
  /** An attempt failed: no answer (timeout, refused, open circuit) or a 5xx. @default 'warn' */
  failure?: LevelWithSilent
  /** An attempt is a retry of a failed one (says after what, and how long it waited). @default 'info' */
  retry?: LevelWithSilent
  /** An attempt answered below 500. @default 'debug' */
  success?: LevelWithSilent
}

/** Options of `clientLogger()`. */
export interface ClientLoggerOptions {
  /**
   * The logger for calls made outside a request (no `log` in their `context`). Calls
   * with one log to the request's child logger, so every line carries its `req_id`
   * and trace ids.
   * @default undefined (such calls are not logged)
   */
  logger?: Logger
  /** Levels per line; `silent` writes none. @default { failure: 'warn', retry: 'info', success: 'debug' } */
  levels?: ClientLogLevels
}

/** Messages of the client log lines, by kind. */
export const CLIENT_MESSAGES: {
  readonly failure: 'outgoing call failed'
  readonly retry: 'retrying outgoing call'
  readonly success: 'outgoing call'
} = {
  failure: 'outgoing call failed',
  retry: 'retrying outgoing call',
  success: 'outgoing call',
}

/**
 * An interceptor for `@sturdy/client` (any client speaking core's `ClientInterceptor`
 * contract) that writes its attempts to the request's logger — the `log` of the call's
 * `context`, which `requestLogger()` binds to `req_id` and the trace — so a retry, a
 * timeout or an open circuit shows up among the lines of the request that caused it.
 *
 * Each line carries `method`, `url` (origin and path; never the query), `attempt`,
 * `status` when there was an answer, `duration_ms`, and on failure `error_type` and
 * `err`. A retry line says what it retries after (`after`) and how long it waited
 * (`delay_ms`).
 *
 * @param options root logger and levels
 * @returns a named client interceptor
 * @example
 * import { createClient } from '@sturdy/client'
 * import { clientLogger } from '@sturdy/logger'
 *
 * const inventory = createClient({ interceptors: [clientLogger()] })
 * app.get('/stock', async (c) => c.json(await inventory.json('http://127.0.0.1:9000/stock', { context: c })))
 */
export function clientLogger(options: ClientLoggerOptions = {}): ClientInterceptor {
  const levels = options.levels ?? {}
  const failure = levels.failure ?? 'warn'
  const retry = levels.retry ?? 'info'
  const success = levels.success ?? 'debug'
  // One child, made once, so the errors serialized here keep their shape (see
  // errSerializerFor); request loggers from requestLogger() already have it.
  const root =
    options.logger === undefined
      ? undefined
      : options.logger.child({}, { serializers: { err: errSerializerFor(options.logger) } })

  return async function logClientCall(
    request: OutgoingRequest,
    next: () => Promise<IncomingResponse>,
  ): Promise<IncomingResponse> {
    const log = loggerOf(request.values) ?? root
    if (log === undefined) return next()
    const resend = request.resend
    if (resend !== undefined && enabled(log, retry)) {
      log[retry as Level](
        {
          ...where(request),
          attempt: request.attempt,
          after: resend.after,
          delay_ms: Math.round(resend.delayMs),
        },
        CLIENT_MESSAGES.retry,
      )
    }
    const started = performance.now()
    let response: IncomingResponse
    try {
      response = await next()
    } catch (error) {
      if (enabled(log, failure)) {
        log[failure as Level](
          {
            ...where(request),
            attempt: request.attempt,
            duration_ms: elapsed(started),
            error_type: outgoingErrorType(error),
            ...retryAfter(error),
            err: serializeError(error, false),
          },
          CLIENT_MESSAGES.failure,
        )
      }
      throw error
    }
    const status = response.status
    const level = status >= 500 ? failure : success
    if (enabled(log, level) || (status < 500 && enabled(log, failure))) {
      response.onDone((error) => {
        const failed = status >= 500 || error !== undefined
        const lineLevel = failed ? failure : success
        if (!enabled(log, lineLevel)) return
        log[lineLevel as Level](
          {
            ...where(request),
            attempt: request.attempt,
            status,
            duration_ms: elapsed(started),
            ...(failed
              ? {
                  error_type: error === undefined ? String(status) : outgoingErrorType(error),
                  ...(error === undefined ? {} : { err: serializeError(error, false) }),
                }
              : {}),
          },
          failed ? CLIENT_MESSAGES.failure : CLIENT_MESSAGES.success,
        )
      })
    }
    return response
  }
}

function loggerOf(values: RequestValues | undefined): Logger | undefined {
  const log = requestValue<Logger>(values, VALUES.log)
  return typeof log?.isLevelEnabled === 'function' ? log : undefined
}

function enabled(log: Logger, level: LevelWithSilent): boolean {
  return level !== 'silent' && log.isLevelEnabled(level)
}

function where(request: OutgoingRequest): { method: string; url: string } {
  const q = request.target.indexOf('?')
  const path = q < 0 ? request.target : request.target.slice(0, q)
  const host = request.host.includes(':') ? `[${request.host}]` : request.host
  return { method: request.method, url: `${request.scheme}://${host}:${request.port}${path}` }
}

/** An open circuit's refusal says when calls may pass again. */
function retryAfter(error: unknown): { retry_after_ms?: number } {
  const e = error as { code?: unknown; retryAfterMs?: unknown } | null
  return e?.code === 'BROKEN_CIRCUIT' && typeof e.retryAfterMs === 'number'
    ? { retry_after_ms: e.retryAfterMs }
    : {}
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100
}
