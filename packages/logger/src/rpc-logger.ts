import type { Clock, RpcCall, RpcCode, RpcInterceptor, TraceContext } from '@sturdy/core'
import { requestValue, rpcMethodName, systemClock, VALUES } from '@sturdy/core'
import type { Level, LevelWithSilent, Logger } from 'pino'
import { DEFAULT_REDACT_PATHS } from './redact.ts'
import { isSafeRequestId, randomRequestId } from './request-id.ts'
import { errSerializerFor, isDeliberate, serializeError } from './serialize-error.ts'
import { formatTraceFlags, isValidTrace } from './trace-fields.ts'

/** Levels of the lines `rpcLogger()` writes. */
export interface RpcLogLevels {
  /** A call served with OK. @default 'info' */
  success?: LevelWithSilent
  /** A call served with a caller's fault (INVALID_ARGUMENT, NOT_FOUND, ...). @default 'warn' */
  clientError?: LevelWithSilent
  /** A call served with a server fault (INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, ...). @default 'error' */
  serverError?: LevelWithSilent
  /** A call the caller cancelled. @default 'warn' */
  aborted?: LevelWithSilent
  /** An outgoing attempt that failed. @default 'warn' */
  attemptFailure?: LevelWithSilent
  /** An outgoing attempt that succeeded. @default 'debug' */
  attemptSuccess?: LevelWithSilent
}

/** Options of `rpcLogger()`. */
export interface RpcLoggerOptions {
  /** The root logger: each call served gets a child of it; outgoing calls without a request logger use it. */
  logger: Logger
  /** The metadata the request id is read from (when safe) and echoed in, or `false`. @default 'x-request-id' */
  requestIdHeader?: string | false
  /** Makes a new request id. @default randomRequestId (crypto.randomUUID) */
  generateRequestId?: () => string
  /** Levels per kind of line. */
  levels?: RpcLogLevels
  /** Time source of `duration_ms`. @default systemClock */
  clock?: Clock
}

/** Messages of the RPC log lines, by kind. */
export const RPC_MESSAGES: {
  readonly completed: 'call completed'
  readonly failed: 'call failed'
  readonly aborted: 'call aborted'
  readonly attempt: 'outgoing call'
  readonly attemptFailed: 'outgoing call failed'
} = {
  completed: 'call completed',
  failed: 'call failed',
  aborted: 'call aborted',
  attempt: 'outgoing call',
  attemptFailed: 'outgoing call failed',
}

/** Codes that are the caller's fault: logged as client errors, not server errors. */
const CALLER_FAULTS: ReadonlySet<RpcCode> = new Set([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'FAILED_PRECONDITION',
  'OUT_OF_RANGE',
  'UNAUTHENTICATED',
  'RESOURCE_EXHAUSTED',
  'ABORTED',
])

/**
 * An RPC observer (mount it with `@sturdy/connect`'s `serverObservers()` /
 * `clientObservers()`) that logs like `requestLogger()` does for HTTP:
 *
 * - per call served, one child logger binding `req_id` (a safe incoming
 *   `x-request-id`, or a new one) and, when `rpcSpans()` runs before it, `trace_id`,
 *   `span_id`, `trace_flags` — shared as the call's `log` and `requestId`
 *   (`valuesOf(ctx).log`) — and one access line when the call ends:
 *   `{ rpc_system, rpc_method, code, duration_ms, err? }`, its level by code;
 * - per outgoing attempt, a line in the request's logger (`callContext(c)` carries
 *   it): failures at `warn` with `code` and `attempt`, successes at `debug`.
 *
 * Errors are serialized without stacks for caller faults; secrets in metadata are never
 * logged (no metadata is).
 *
 * @param options root logger, request-id metadata, levels, clock
 * @returns the observer
 * @example
 * import pino from 'pino'
 * import { serverObservers } from '@sturdy/connect'
 * import { rpcLogger } from '@sturdy/logger'
 * import { rpcSpans } from '@sturdy/tracing'
 *
 * connectNodeAdapter({ routes, interceptors: [serverObservers(rpcSpans(), rpcLogger({ logger: pino() }))] })
 */
export function rpcLogger(options: RpcLoggerOptions): RpcInterceptor {
  const levels = options.levels ?? {}
  const success = levels.success ?? 'info'
  const clientError = levels.clientError ?? 'warn'
  const serverError = levels.serverError ?? 'error'
  const aborted = levels.aborted ?? 'warn'
  const attemptFailure = levels.attemptFailure ?? 'warn'
  const attemptSuccess = levels.attemptSuccess ?? 'debug'
  const header = options.requestIdHeader === undefined ? 'x-request-id' : options.requestIdHeader
  const generate = options.generateRequestId ?? randomRequestId
  const clock = options.clock ?? systemClock
  const root = options.logger.child(
    {},
    {
      serializers: { err: errSerializerFor(options.logger) },
      redact: [...DEFAULT_REDACT_PATHS],
    },
  )

  const levelOf = (code: RpcCode): LevelWithSilent => {
    if (code === 'OK') return success
    if (code === 'CANCELLED') return aborted
    return CALLER_FAULTS.has(code) ? clientError : serverError
  }

  return async function logRpc(call: RpcCall, next: () => Promise<void>): Promise<void> {
    const started = clock.now()
    if (call.side === 'client') {
      try {
        await next()
      } finally {
        const log = requestValue<Logger>(call.values, VALUES.log)
        const target = typeof log?.isLevelEnabled === 'function' ? log : root
        const level = call.code === 'OK' ? attemptSuccess : attemptFailure
        if (enabled(target, level)) {
          target[level as Level](
            {
              rpc_method: rpcMethodName(call),
              server: `${call.serverAddress}:${call.serverPort}`,
              attempt: call.attempt,
              code: call.code,
              duration_ms: ms(clock.now() - started),
              ...(call.code === 'OK' ? {} : { err: serializeError(call.error, false) }),
            },
            call.code === 'OK' ? RPC_MESSAGES.attempt : RPC_MESSAGES.attemptFailed,
          )
        }
      }
      return
    }
    const incoming = header === false ? undefined : (call.header.get(header) ?? undefined)
    const requestId = isSafeRequestId(incoming) ? incoming : generate()
    const trace = requestValue<TraceContext>(call.values, VALUES.trace)
    const log = root.child(
      isValidTrace(trace)
        ? {
            req_id: requestId,
            trace_id: trace.traceId,
            span_id: trace.spanId,
            trace_flags: formatTraceFlags(trace.traceFlags),
          }
        : { req_id: requestId },
    )
    call.set(VALUES.requestId, requestId)
    call.set(VALUES.log, log)
    try {
      await next()
    } finally {
      const code = call.code
      const level = levelOf(code)
      if (enabled(log, level)) {
        log[level as Level](
          {
            rpc_system: call.system,
            rpc_method: rpcMethodName(call),
            code,
            duration_ms: ms(clock.now() - started),
            ...(code === 'OK' || code === 'CANCELLED'
              ? {}
              : {
                  err: serializeError(
                    call.error,
                    !CALLER_FAULTS.has(code) && !isDeliberate(call.error),
                  ),
                }),
          },
          code === 'OK'
            ? RPC_MESSAGES.completed
            : code === 'CANCELLED'
              ? RPC_MESSAGES.aborted
              : RPC_MESSAGES.failed,
        )
      }
    }
  }
}

function enabled(log: Logger, level: LevelWithSilent): boolean {
  return level !== 'silent' && log.isLevelEnabled(level)
}

function ms(value: number): number {
  return Math.round(value * 1000) / 1000
}
