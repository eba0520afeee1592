import type {
  Attributes,
  Context,
  Span,
  TextMapGetter,
  TextMapPropagator,
  TextMapSetter,
  TracerProvider,
} from '@opentelemetry/api'
import {
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import type { RpcCall, RpcCode, RpcInterceptor, RpcMetadata, TraceContext } from '@sturdy/core'
import { requestValue, rpcMethodName, VALUES } from '@sturdy/core'
import { errorMessage } from './error-type.ts'
import { contextFrom } from './inject.ts'
import {
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_STURDY_RETRY_ATTEMPT,
  ATTR_STURDY_RETRY_DELAY_MS,
  EVENT_RETRY,
} from './semconv.ts'
import { TRACER_NAME, TRACER_VERSION } from './server.ts'

// RPC semantic-convention names (release candidate since semconv 1.39), copied rather
// than imported from `/incubating`, as OpenTelemetry's guidelines ask.
const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name'
const ATTR_RPC_METHOD = 'rpc.method'
const ATTR_RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code'

/** Options of `rpcSpans()`. */
export interface RpcSpansOptions {
  /**
   * Where spans come from (see `TracingOptions.tracerProvider` for why it is global).
   * @default the global provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProvider
  /**
   * Reads the caller's context from request metadata (server) and writes the attempt's
   * (client): `traceparent`, `tracestate`, baggage.
   * @default the global propagator (`propagation`)
   */
  propagator?: TextMapPropagator
}

/**
 * Codes that mark a SERVER span as failed: the server's own faults, as the gRPC
 * semantic conventions list them. A caller's bad input (INVALID_ARGUMENT, NOT_FOUND...)
 * is not the server's error.
 */
const SERVER_ERRORS: ReadonlySet<RpcCode> = new Set([
  'UNKNOWN',
  'DEADLINE_EXCEEDED',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
])

/**
 * An RPC observer (mount it with `@sturdy/connect`'s `serverObservers()` /
 * `clientObservers()`) that follows OpenTelemetry's RPC conventions:
 *
 * - a SERVER span per call served, a child of the caller's W3C context from the
 *   metadata; the handler runs inside its context, and its ids are shared as the
 *   call's `trace` value (`valuesOf(ctx).trace`, read by `rpcLogger()` and by outgoing
 *   calls); ERROR for the server's own faults (UNKNOWN, DEADLINE_EXCEEDED,
 *   UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS);
 * - a CLIENT span per attempt, a child of the request's span (from `callContext()`) or
 *   the active one, whose `traceparent`/`tracestate` go out in the attempt's metadata;
 *   ERROR for any code but OK, except CANCELLED (the caller gave up); a retry carries a
 *   `sturdy.retry` event;
 * - name `rpc.method` (`pkg.Service/Method`), attributes `rpc.system.name`,
 *   `rpc.method`, `rpc.response.status_code`, `error.type` (the code) on failure,
 *   `server.address`/`server.port` on clients.
 *
 * @param options tracer provider and propagator
 * @returns the observer
 * @example
 * import { clientObservers, serverObservers } from '@sturdy/connect'
 * import { rpcSpans } from '@sturdy/tracing'
 *
 * connectNodeAdapter({ routes, interceptors: [serverObservers(rpcSpans())] })
 * createGrpcTransport({ baseUrl, interceptors: [clientObservers(rpcSpans())] })
 */
export function rpcSpans(options: RpcSpansOptions = {}): RpcInterceptor {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
    TRACER_NAME,
    TRACER_VERSION,
  )
  const propagator = options.propagator ?? propagation
  return async function traceRpc(call: RpcCall, next: () => Promise<void>): Promise<void> {
    const server = call.side === 'server'
    const parent = server ? extract(propagator, call.header) : parentOf(call)
    const name = rpcMethodName(call)
    const attributes: Attributes = {
      [ATTR_RPC_SYSTEM_NAME]: call.system,
      [ATTR_RPC_METHOD]: name,
    }
    if (!server) {
      attributes[ATTR_SERVER_ADDRESS] = call.serverAddress ?? ''
      if (call.serverPort !== undefined) attributes[ATTR_SERVER_PORT] = call.serverPort
    }
    const span = tracer.startSpan(
      name,
      { kind: server ? SpanKind.SERVER : SpanKind.CLIENT, attributes },
      parent,
    )
    const ctx = trace.setSpan(parent, span)
    if (server) share(call, span)
    else {
      if (call.resend !== undefined) {
        span.addEvent(EVENT_RETRY, {
          [ATTR_STURDY_RETRY_ATTEMPT]: call.attempt - 1,
          [ATTR_STURDY_RETRY_DELAY_MS]: call.resend.delayMs,
          [ATTR_ERROR_TYPE]: call.resend.after,
        })
      }
      try {
        propagator.inject(ctx, call.header, METADATA_SETTER)
      } catch {
        // A propagator that throws must not fail the call.
      }
    }
    try {
      await context.with(ctx, next)
    } finally {
      end(span, call, server)
    }
  }
}

function end(span: Span, call: RpcCall, server: boolean): void {
  const code = call.code
  span.setAttribute(ATTR_RPC_RESPONSE_STATUS_CODE, code)
  if (code !== 'OK') {
    span.setAttribute(ATTR_ERROR_TYPE, code)
    const failed = server ? SERVER_ERRORS.has(code) : code !== 'CANCELLED'
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(call.error) })
  }
  span.end()
}

/** Shares the SERVER span's ids with the handler and the observers inside this one. */
function share(call: RpcCall, span: Span): void {
  const sc = span.spanContext()
  if (!isSpanContextValid(sc)) return
  const traceState = sc.traceState?.serialize()
  const shared: TraceContext = {
    traceId: sc.traceId,
    spanId: sc.spanId,
    traceFlags: sc.traceFlags,
    ...(traceState === undefined || traceState === '' ? {} : { traceState }),
  }
  call.set(VALUES.trace, shared)
}

/** The request's span (from `callContext()`) when it is of another trace than the active one. */
function parentOf(call: RpcCall): Context {
  const active = context.active()
  const own = requestValue<TraceContext>(call.values, VALUES.trace)
  const current = trace.getSpanContext(active)
  if (current !== undefined && isSpanContextValid(current)) {
    if (own === undefined || own.traceId === current.traceId) return active
  }
  return own === undefined ? active : contextFrom(own, active)
}

const METADATA_GETTER: TextMapGetter<RpcMetadata> = {
  keys: () => [],
  get: (metadata, key) => metadata.get(key) ?? undefined,
}

const METADATA_SETTER: TextMapSetter<RpcMetadata> = {
  set: (metadata, key, value) => {
    // The W3C spec says not to send an empty tracestate.
    if (value !== '' || key !== 'tracestate') metadata.set(key, value)
  },
}

function extract(propagator: TextMapPropagator, metadata: RpcMetadata): Context {
  try {
    return propagator.extract(context.active(), metadata, METADATA_GETTER)
  } catch {
    return context.active()
  }
}
