import type { Clock, Exchange, TraceContext } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import type { LevelWithSilent, Logger } from 'pino'
import { DEFAULT_REDACT_PATHS } from './redact.ts'
import { DEFAULT_MAX_REQUEST_ID_LENGTH, randomRequestId } from './request-id.ts'
import { errSerializerFor } from './serialize-error.ts'

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
  /**
   * Time source for `duration_ms`, and for telling that a 504 is the deadline's (the
   * deadline has passed): use the clock `deadline()` uses, as both do by default.
   * @default systemClock
   */
  clock?: Clock
}

/** The kinds of outcome an access line reports, one level each. */
export type AccessOutcome = keyof AccessLevels

/** `RequestLoggerOptions` with every default applied, shared by all requests. */
export interface LoggerSettings {
  /** The root's child that carries the serializers and redaction, compiled once. */
  readonly base: Logger
  readonly requestIdHeader: string | false
  /** `requestIdHeader` lower-cased, as the request is read (once, not per request). */
  readonly requestIdHeaderLower: string
  /** Whether an incoming request-id header is read at all. */
  readonly readId: boolean
  readonly maxRequestIdLength: number
  readonly generateRequestId: () => string
  readonly traceContext: ((ex: Exchange) => TraceContext | undefined) | undefined
  readonly levels: Readonly<Record<AccessOutcome, LevelWithSilent>>
  /** `requestHeaders`, lower-cased. */
  readonly headerNames: readonly string[]
  /** Keys user bindings and fields may not use: the logger's own and the root's. */
  readonly reserved: ReadonlySet<string>
  readonly bindings: ((ex: Exchange) => Record<string, unknown>) | undefined
  readonly fields: ((ex: Exchange) => Record<string, unknown>) | undefined
  readonly skip: ((ex: Exchange) => boolean) | undefined
  readonly detectClientAbort: boolean
  readonly clock: Clock
}

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

const DEFAULT_LEVELS: Readonly<Record<AccessOutcome, LevelWithSilent>> = {
  success: 'info',
  clientError: 'warn',
  serverError: 'error',
  aborted: 'warn',
}

/**
 * Applies the defaults and compiles what can be compiled once: redaction and the `err`
 * serializer on one intermediate child (request loggers inherit them through pino's
 * prototype chain, never per request), and the set of reserved keys.
 *
 * @param o the caller's options
 * @returns the settings every request reads
 */
export function resolveLoggerOptions(o: RequestLoggerOptions): LoggerSettings {
  const { logger } = o
  const requestIdHeader = o.requestIdHeader ?? 'X-Request-Id'
  const redact = o.redact ?? []
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
  const levels = { ...DEFAULT_LEVELS }
  for (const k of Object.keys(levels) as AccessOutcome[]) {
    const level = o.levels?.[k]
    if (level !== undefined) levels[k] = level
  }
  return {
    base,
    requestIdHeader,
    requestIdHeaderLower: requestIdHeader === false ? '' : requestIdHeader.toLowerCase(),
    readId: requestIdHeader !== false && (o.trustRequestId ?? true),
    maxRequestIdLength: o.maxRequestIdLength ?? DEFAULT_MAX_REQUEST_ID_LENGTH,
    generateRequestId: o.generateRequestId ?? randomRequestId,
    traceContext: o.traceContext,
    levels,
    headerNames: (o.requestHeaders ?? []).map((h) => h.toLowerCase()),
    reserved,
    bindings: o.bindings,
    fields: o.fields,
    skip: o.skip,
    detectClientAbort: o.detectClientAbort ?? true,
    clock: o.clock ?? systemClock,
  }
}
