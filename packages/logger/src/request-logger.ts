import type { Exchange, Middleware, TraceContext } from '@sturdy/core'
import { VALUES } from '@sturdy/core'
import type { Logger } from 'pino'
import { NOT_THROWN, writeAccessLine } from './access-line.ts'
import type { LoggerSettings, RequestLoggerOptions } from './logger-options.ts'
import { resolveLoggerOptions } from './logger-options.ts'
import { isSafeRequestId } from './request-id.ts'
import { callSafely } from './safe-call.ts'
import { formatTraceFlags, isValidTrace } from './trace-fields.ts'

/** The per-request values `requestLogger()` shares: `c.var.log` and `c.var.requestId` in Hono. */
export interface RequestLoggerVariables {
  /** The request's child logger: every line carries `req_id` (and the trace ids). */
  log: Logger
  /** The request id, as logged under `req_id` and echoed in the response header. */
  requestId: string
}

/**
 * Structured request logging with pino. Per request it creates one child logger that
 * binds `req_id` and, when a span is active, `trace_id`, `span_id` and `trace_flags`
 * (the keys OpenTelemetry's pino instrumentation uses), each exactly once; shares it
 * as `log` (and the id as `requestId`); echoes the id header before the handler runs;
 * and writes one access line when the request ends:
 * `{ method, route, path, status, duration_ms, res_size?, abort?, err?, headers? }`.
 *
 * Mount it inside `@sturdy/tracing` (after it in the list) so the span exists when
 * the request logger is made, and outside `deadline()`.
 *
 * @param options `logger` (required) and the options documented on `RequestLoggerOptions`
 * @returns a named middleware providing `log` and `requestId`
 * @example
 * import pino from 'pino'
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { requestLogger } from '@sturdy/logger'
 *
 * const app = new Hono().use(sturdy(requestLogger({ logger: pino() })))
 * app.get('/users/:id', (c) => {
 *   c.var.log.info({ user: c.req.param('id') }, 'loading user')
 *   return c.json({ id: c.req.param('id') })
 * })
 */
export function requestLogger(options: RequestLoggerOptions): Middleware<RequestLoggerVariables> {
  const s = resolveLoggerOptions(options)
  return async function requestLoggerMiddleware(ex, next): Promise<void> {
    const start = s.clock.now()
    const requestId = requestIdOf(s, ex)
    if (s.requestIdHeader !== false) ex.setHeader(s.requestIdHeader, requestId)
    const userBound = userBindings(s, ex)
    const log = s.base.child(bindingsOf(s, ex, requestId, userBound)) as Logger
    ex.set(VALUES.requestId, requestId)
    ex.set(VALUES.log, log)

    let thrown: unknown = NOT_THROWN
    try {
      await next()
    } catch (error) {
      thrown = error
      throw error
    } finally {
      if (callSafely(s.skip, ex) !== true) writeAccessLine(s, log, ex, start, thrown, userBound)
    }
  }
}

/** The id another middleware already chose, a safe incoming one, or a new one. */
function requestIdOf(s: LoggerSettings, ex: Exchange): string {
  const existing = ex.get<unknown>(VALUES.requestId)
  if (typeof existing === 'string') return existing
  const incoming = s.readId ? ex.header(s.requestIdHeaderLower) : undefined
  return isSafeRequestId(incoming, s.maxRequestIdLength) ? incoming : s.generateRequestId()
}

function userBindings(s: LoggerSettings, ex: Exchange): Record<string, unknown> | undefined {
  const extra = callSafely(s.bindings, ex)
  return typeof extra === 'object' && extra !== null ? extra : undefined
}

/**
 * The request logger's bindings, in one object for one `child()` call: pino never
 * de-duplicates keys, so every key is written exactly once, here.
 */
function bindingsOf(
  s: LoggerSettings,
  ex: Exchange,
  requestId: string,
  userBound: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const trace = ex.get<TraceContext>(VALUES.trace) ?? callSafely(s.traceContext, ex)
  const bound: Record<string, unknown> = isValidTrace(trace)
    ? {
        req_id: requestId,
        trace_id: trace.traceId,
        span_id: trace.spanId,
        trace_flags: formatTraceFlags(trace.traceFlags),
      }
    : { req_id: requestId }
  if (userBound !== undefined) {
    for (const key in userBound) if (!s.reserved.has(key)) bound[key] = userBound[key]
  }
  return bound
}
