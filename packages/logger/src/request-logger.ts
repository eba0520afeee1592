import type { ChaosMark, Clock, Exchange, Middleware, TraceContext } from '@sturdy/core'
import { abortKind, isSturdyError, systemClock, VALUES } from '@sturdy/core'
import type { LevelWithSilent, Logger } from 'pino'
import { DEFAULT_REDACT_PATHS } from './redact.ts'
import { DEFAULT_MAX_REQUEST_ID_LENGTH, isSafeRequestId, randomRequestId } from './request-id.ts'
import { errSerializerFor, serializeError } from './serialize-error.ts'
import { formatTraceFlags, isValidTrace } from './trace-fields.ts'

/** The per-request values `requestLogger()` shares: `c.var.log` and `c.var.requestId` in Hono. */
export interface RequestLoggerVariables {
  /** The request's child logger: every line carries `req_id` (and the trace ids). */
  log: Logger
  /** The request id, as logged under `req_id` and echoed in the response header. */
  requestId: string
}

/** The access line's level for each kind of outcome. `silent` drops the line. */
export interface AccessLevels {
  /** 1xx–3xx. @default 'info' */
  success?: LevelWithSilent
  /** 4xx. @default 'warn' */
  clientError?: LevelWithSilent
  /** 5xx, and anything thrown past the framework. @default 'error' */
  serverError?: LevelWithSilent
  /** The client went away before the response was ready. @default 'warn' */
  aborted?: LevelWithSilent
}

/** Options of `requestLogger()`. */
export interface RequestLoggerOptions {
  /** The pino logger to derive request loggers from (injected; pino is a peer dependency). */
  logger: Logger
  /**
   * The request-id header: read from the request (when trusted) and echoed on the
   * response. `false` neither reads nor echoes a header.
   * @default 'X-Request-Id'
   */
  requestIdHeader?: string | false
  /**
   * Reuse a safe incoming id (see `isSafeRequestId`). Turn off when clients, not a
   * gateway you control, reach the service directly and you want ids you minted.
   * @default true
   */
  trustRequestId?: boolean
  /** The longest incoming id reused. @default 128 */
  maxRequestIdLength?: number
  /** Makes a new request id. @default randomRequestId (crypto.randomUUID) */
  generateRequestId?: () => string
  /**
   * Where the trace ids come from when no `trace` value is on the Exchange (i.e. when
   * `@sturdy/tracing` is not mounted outside this middleware). For OpenTelemetry
   * auto-instrumentation alone: `() => trace.getActiveSpan()?.spanContext()`.
   * @default undefined (only the Exchange's `trace` value is used)
   */
  traceContext?: (ex: Exchange) => TraceContext | undefined
  /** Access-line levels by outcome. @default { success: 'info', clientError: 'warn', serverError: 'error', aborted: 'warn' } */
  levels?: AccessLevels
  /**
   * Request headers to put on the access line under `headers` (lower-case names). No
   * header is logged unless listed; redaction still applies to the listed ones.
   * @default []
   */
  requestHeaders?: readonly string[]
  /**
   * Extra pino `redact` paths, added to `DEFAULT_REDACT_PATHS` on the request loggers.
   * pino replaces (does not merge) a parent's redaction in a child, so list your root
   * logger's own paths here too; `false` adds no redaction and keeps the root's.
   * @default []
   */
  redact?: readonly string[] | false
  /**
   * Extra bindings for the request logger (every line of the request). Keys the
   * logger owns (`req_id`, `trace_id`, access-line keys, `level`, `time`, `msg`, ...)
   * and keys the root logger already binds are dropped, so no key appears twice.
   * @default undefined
   */
  bindings?: (ex: Exchange) => Record<string, unknown>
  /**
   * Extra fields for the access line only, read after the response is known; owned
   * and already-bound keys are dropped.
   * @default undefined
   */
  fields?: (ex: Exchange) => Record<string, unknown>
  /** Skip the access line for a request (health checks); the child logger still exists. @default undefined */
  skip?: (ex: Exchange) => boolean
  /**
   * Log client disconnects as aborts (status 499, `request aborted`). Adapters report a
   * disconnect through `ex.aborted` without creating the request signal, so this costs
   * nothing per request; turn it off to log such requests as ordinary responses.
   * @default true
   */
  detectClientAbort?: boolean
  /** Time source for `duration_ms`. @default systemClock */
  clock?: Clock
}

/** Messages of the access line, by outcome. */
export const ACCESS_MESSAGES: {
  readonly completed: 'request completed'
  readonly failed: 'request failed'
  readonly aborted: 'request aborted'
} = { completed: 'request completed', failed: 'request failed', aborted: 'request aborted' }

/** The keys the request logger binds and the access line writes. */
const OWN_KEYS: readonly string[] = [
  'req_id',
  'trace_id',
  'span_id',
  'trace_flags',
  'method',
  'route',
  'path',
  'status',
  'duration_ms',
  'res_size',
  'abort',
  'err',
  'headers',
  'chaos',
  // pino's own
  'level',
  'time',
  'msg',
  'pid',
  'hostname',
]

const NOT_THROWN: unique symbol = Symbol('not thrown') as never

/**
 * Structured request logging with pino. Per request it creates one child logger that
 * binds `req_id` and, when a span is active, `trace_id`, `span_id` and `trace_flags`
 * (the keys OpenTelemetry's pino instrumentation uses), each exactly once; shares it
 * as `log` (and the id as `requestId`); echoes the id header before the handler runs;
 * and writes one access line when the request ends:
 * `{ method, route, path, status, duration_ms, res_size?, abort?, err?, headers? }`.
 *
 * Mount it inside `@sturdy/tracing` (after it in the list) so the span exists when
 * the request logger is made.
 *
 * @param options `logger` (required) and the options documented on `RequestLoggerOptions`
 * @param options.logger the pino logger request loggers derive from
 * @param options.requestIdHeader request-id header to read and echo; @default 'X-Request-Id'
 * @param options.trustRequestId reuse a safe incoming id; @default true
 * @param options.maxRequestIdLength longest incoming id reused; @default 128
 * @param options.generateRequestId new-id factory; @default randomRequestId
 * @param options.traceContext fallback source of trace ids; @default undefined
 * @param options.levels access levels; @default { success: 'info', clientError: 'warn', serverError: 'error', aborted: 'warn' }
 * @param options.requestHeaders request headers logged on the access line; @default []
 * @param options.redact extra redact paths, or false; @default []
 * @param options.bindings extra per-request bindings; @default undefined
 * @param options.fields extra access-line fields; @default undefined
 * @param options.skip requests without an access line; @default undefined
 * @param options.detectClientAbort log client disconnects as aborts; @default true
 * @param options.clock time source; @default systemClock
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
  const {
    logger,
    requestIdHeader = 'X-Request-Id',
    trustRequestId = true,
    maxRequestIdLength = DEFAULT_MAX_REQUEST_ID_LENGTH,
    generateRequestId = randomRequestId,
    traceContext,
    requestHeaders = [],
    redact = [],
    bindings: extraBindings,
    fields: extraFields,
    skip,
    detectClientAbort = true,
    clock = systemClock,
  } = options
  const levelSuccess = options.levels?.success ?? 'info'
  const levelClientError = options.levels?.clientError ?? 'warn'
  const levelServerError = options.levels?.serverError ?? 'error'
  const levelAborted = options.levels?.aborted ?? 'warn'
  const readId = requestIdHeader !== false && trustRequestId
  const headerNames = requestHeaders.map((h) => h.toLowerCase())

  // Redaction and serializers are compiled once here, on an intermediate child, never
  // per request: the request loggers inherit them through pino's prototype chain.
  const serializers = { err: errSerializerFor(logger) }
  const base = logger.child(
    {},
    redact === false
      ? { serializers }
      : { serializers, redact: [...DEFAULT_REDACT_PATHS, ...redact] as string[] },
  )

  // Keys the root already binds (base fields like `service`) cannot be bound again.
  const reserved = new Set(OWN_KEYS)
  for (const key of Object.keys(logger.bindings())) reserved.add(key)

  return async function requestLoggerMiddleware(ex, next): Promise<void> {
    const start = clock.now()
    let id = ex.get<unknown>(VALUES.requestId)
    if (typeof id !== 'string') {
      const incoming = readId ? ex.header(requestIdHeader) : undefined
      id = isSafeRequestId(incoming, maxRequestIdLength) ? incoming : generateRequestId()
    }
    const requestId = id as string
    if (requestIdHeader !== false) ex.setHeader(requestIdHeader, requestId)

    const trace = ex.get<TraceContext>(VALUES.trace) ?? attempt(traceContext, ex)
    // One object, one child() call: pino never de-duplicates keys, so every key is
    // written into the bindings exactly once, here.
    const bound: Record<string, unknown> = isValidTrace(trace)
      ? {
          req_id: requestId,
          trace_id: trace.traceId,
          span_id: trace.spanId,
          trace_flags: formatTraceFlags(trace.traceFlags),
        }
      : { req_id: requestId }
    let userBound: Record<string, unknown> | undefined
    if (extraBindings !== undefined) {
      const extra = attempt(extraBindings, ex)
      if (typeof extra === 'object' && extra !== null) {
        userBound = extra
        for (const key in extra) {
          if (!reserved.has(key)) bound[key] = extra[key]
        }
      }
    }
    const log = base.child(bound) as Logger
    ex.set(VALUES.requestId, requestId)
    ex.set(VALUES.log, log)

    let thrown: unknown = NOT_THROWN
    try {
      await next()
    } catch (error) {
      thrown = error
      throw error
    } finally {
      if (attempt(skip, ex) !== true) writeAccessLine(log, ex, start, thrown, userBound)
    }
  }

  function writeAccessLine(
    log: Logger,
    ex: Exchange,
    start: number,
    thrown: unknown,
    userBound: Record<string, unknown> | undefined,
  ): void {
    const durationMs = Math.round((clock.now() - start) * 1000) / 1000
    const kind = ex.aborted ? abortKind(ex.signal.reason) : undefined
    const abort = kind === 'client-disconnect' && !detectClientAbort ? undefined : kind
    const clientGone = abort === 'client-disconnect'
    let status: number
    let error: unknown
    if (thrown !== NOT_THROWN) {
      // Thrown past the framework (Hono lets non-Error throws escape next()).
      error = thrown
      status = isSturdyError(thrown) ? thrown.status : 500
    } else {
      error = ex.error
      status = ex.status
    }
    // 499 is nginx's "client closed request": the response was never delivered, so its
    // status (often a 500 from the aborted work) would mislead.
    if (clientGone) status = 499
    const level = clientGone
      ? levelAborted
      : status >= 500
        ? levelServerError
        : status >= 400
          ? levelClientError
          : levelSuccess
    if (level === 'silent') return

    // Built once, with every key present; pino skips the undefined ones.
    const line: Record<string, unknown> = {
      method: ex.method,
      route: ex.route(),
      path: ex.path,
      status,
      duration_ms: durationMs,
      res_size: ex.responseSize,
      abort,
      err: error === undefined || clientGone ? undefined : serializeError(error, status >= 500),
      headers: headerNames.length === 0 ? undefined : pickHeaders(ex, headerNames),
      // Faults @sturdy/chaos injected: the line says the request was a drill.
      chaos: ex.get<readonly ChaosMark[]>(VALUES.chaos),
    }
    if (extraFields !== undefined) {
      const extra = attempt(extraFields, ex)
      if (typeof extra === 'object' && extra !== null) {
        for (const key in extra) {
          if (!reserved.has(key) && (userBound === undefined || !(key in userBound))) {
            line[key] = extra[key]
          }
        }
      }
    }
    const message = clientGone
      ? ACCESS_MESSAGES.aborted
      : status >= 500
        ? ACCESS_MESSAGES.failed
        : ACCESS_MESSAGES.completed
    log[level](line, message)
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

/**
 * Runs an option callback; a callback that throws counts as absent. The logger observes
 * the request and must never be what breaks it.
 */
function attempt<T>(fn: ((ex: Exchange) => T) | undefined, ex: Exchange): T | undefined {
  if (fn === undefined) return undefined
  try {
    return fn(ex)
  } catch {
    return undefined
  }
}
