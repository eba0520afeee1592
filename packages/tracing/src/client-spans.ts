import type { Attributes, Context, Span, TextMapPropagator } from '@opentelemetry/api'
import {
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import type {
  ClientInterceptor,
  IncomingResponse,
  OutgoingRequest,
  RequestValues,
  TraceContext,
} from '@sturdy/core'
import {
  normalizeMethod,
  OTHER_METHOD,
  outgoingErrorType,
  requestValue,
  VALUES,
} from '@sturdy/core'
import { errorMessage } from './error-type.ts'
import { contextFrom, RECORD_SETTER } from './inject.ts'
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_STURDY_BREAKER_RETRY_AFTER_MS,
  ATTR_STURDY_BREAKER_STATE,
  ATTR_STURDY_RETRY_ATTEMPT,
  ATTR_STURDY_RETRY_DELAY_MS,
  ATTR_URL_FULL,
  EVENT_BREAKER_REJECTED,
  EVENT_RETRY,
} from './semconv.ts'
import { TRACER_NAME, TRACER_VERSION } from './server.ts'
import type { ClientSpansOptions } from './types.ts'

/**
 * Query keys whose values `url.full` never shows, as the HTTP semantic conventions ask
 * (presigned-URL signatures), plus common secret-bearing keys.
 */
export const REDACTED_QUERY_KEYS: readonly string[] = Object.freeze([
  'AWSAccessKeyId',
  'Signature',
  'sig',
  'X-Goog-Signature',
  'X-Amz-Signature',
  'X-Amz-Credential',
  'X-Amz-Security-Token',
  'access_token',
  'api_key',
  'apikey',
  'token',
  'password',
  'secret',
  'client_secret',
])

/**
 * An interceptor for `@sturdy/client` (or any client speaking core's `ClientInterceptor`
 * contract) that gives every attempt its own CLIENT span, following the OpenTelemetry
 * HTTP client conventions, and injects `traceparent`/`tracestate` from that span — so
 * three calls from one request have three distinct parents for the next hop.
 *
 * - Name `{METHOD}` (`HTTP` for unknown methods); `http.request.method`,
 *   `server.address`, `server.port`, `url.full` (credentials never present, secret
 *   query values `REDACTED`), `http.response.status_code`, `error.type` (the status for
 *   ≥ 400, else the failure's type: `connect_timeout`, `ECONNREFUSED`,
 *   `BrokenCircuitError`, ...), `http.request.resend_count` on retries, with a
 *   `sturdy.retry` event saying what was retried and after how long.
 * - The span ends when the response body is done (read, discarded or failed), so a
 *   slow download is inside it.
 * - Parent: the active span when a context manager is registered and it belongs to
 *   the request's trace, else the request's span from `context` (`c.var.trace`, its
 *   tracestate included) — no AsyncLocalStorage needed.
 * - In `'auto'` mode, when `@opentelemetry/instrumentation-undici` listens to undici's
 *   diagnostics channel it already makes a CLIENT span per request: no second one.
 *
 * @param options tracer provider, propagator, redacted query keys, mode
 * @returns a named client interceptor
 * @example
 * import { createClient } from '@sturdy/client'
 * import { clientSpans } from '@sturdy/tracing'
 *
 * const inventory = createClient({ baseUrl: 'http://127.0.0.1:9000', interceptors: [clientSpans()] })
 * app.get('/stock/:sku', async (c) => c.json(await inventory.json(`/stock/${c.req.param('sku')}`, { context: c })))
 */
export function clientSpans(options: ClientSpansOptions = {}): ClientInterceptor {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
    TRACER_NAME,
    TRACER_VERSION,
  )
  const propagator: TextMapPropagator = options.propagator ?? propagation
  const redact = new Set([...REDACTED_QUERY_KEYS, ...(options.redactQueryKeys ?? [])])
  const mode = options.mode ?? 'auto'
  if (mode !== 'auto' && mode !== 'always') {
    throw new TypeError(`clientSpans(): unknown mode ${JSON.stringify(mode)}`)
  }

  return async function clientSpan(request: OutgoingRequest, next): Promise<IncomingResponse> {
    if (mode === 'auto' && undiciInstrumented()) return next()
    const parent = parentOf(request.values)
    const method = normalizeMethod(request.method)
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_SERVER_ADDRESS]: request.host,
      [ATTR_SERVER_PORT]: request.port,
      [ATTR_URL_FULL]: fullUrl(request, redact),
    }
    if (method === OTHER_METHOD) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = request.method
    if (request.attempt > 1) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = request.attempt - 1
    const span = tracer.startSpan(
      method === OTHER_METHOD ? 'HTTP' : method,
      { kind: SpanKind.CLIENT, attributes },
      parent,
    )
    const resend = request.resend
    if (resend !== undefined) {
      span.addEvent(EVENT_RETRY, {
        [ATTR_STURDY_RETRY_ATTEMPT]: request.attempt - 1,
        [ATTR_STURDY_RETRY_DELAY_MS]: resend.delayMs,
        [ATTR_ERROR_TYPE]: resend.after,
      })
    }
    try {
      propagator.inject(trace.setSpan(parent, span), request.headers, RECORD_SETTER)
    } catch {
      // A propagator that throws must not fail the call.
    }
    let response: IncomingResponse
    try {
      response = await next()
    } catch (error) {
      failed(span, error)
      span.end()
      throw error
    }
    const status = response.status
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status)
    // Client spans: any status >= 400 is an error (the server span judges 4xx otherwise).
    if (status >= 400) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status))
      span.setStatus({ code: SpanStatusCode.ERROR })
    }
    response.onDone((error) => {
      if (error !== undefined && status < 400) failed(span, error)
      span.end()
    })
    return response
  }
}

function failed(span: Span, error: unknown): void {
  // The caller giving up is not the dependency's failure: no ERROR status.
  const name = (error as { name?: unknown } | null)?.name
  if (name === 'AbortError' || name === 'ClientClosedError' || name === 'ShutdownError') return
  span.setAttribute(ATTR_ERROR_TYPE, outgoingErrorType(error))
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) })
  // An open circuit refused the attempt: say so, and when it may let calls through.
  const e = error as { code?: unknown; state?: unknown; retryAfterMs?: unknown } | null
  if (e?.code === 'BROKEN_CIRCUIT') {
    span.addEvent(EVENT_BREAKER_REJECTED, {
      [ATTR_STURDY_BREAKER_STATE]: String(e.state),
      [ATTR_STURDY_BREAKER_RETRY_AFTER_MS]: Number(e.retryAfterMs),
    })
  }
}

/**
 * The parent of an attempt's span: the active context when it holds a span of the same
 * trace as the request (a child span the handler started, with a context manager),
 * else the request's span from its values, else whatever is active.
 */
function parentOf(values: RequestValues | undefined): Context {
  const active = context.active()
  const own = requestValue<TraceContext>(values, VALUES.trace)
  const current = trace.getSpanContext(active)
  if (current !== undefined && isSpanContextValid(current)) {
    if (own === undefined || own.traceId === current.traceId) return active
  }
  return own === undefined ? active : contextFrom(own, active)
}

/** `url.full` without secrets: userinfo never reaches a request; secret query values are redacted. */
function fullUrl(request: OutgoingRequest, redact: ReadonlySet<string>): string {
  const host = request.host.includes(':') ? `[${request.host}]` : request.host
  const defaultPort = request.scheme === 'https' ? 443 : 80
  const origin = `${request.scheme}://${host}${request.port === defaultPort ? '' : `:${request.port}`}`
  const target = request.target
  const q = target.indexOf('?')
  if (q < 0) return origin + target
  const parts = target.slice(q + 1).split('&')
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    const eq = part.indexOf('=')
    const key = eq < 0 ? part : part.slice(0, eq)
    if (redact.has(safeDecode(key))) parts[i] = `${key}=REDACTED`
  }
  return `${origin}${target.slice(0, q)}?${parts.join('&')}`
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

interface DiagnosticsChannel {
  hasSubscribers(name: string): boolean
}

let channels: DiagnosticsChannel | null | undefined

/**
 * True when something (instrumentation-undici) listens to undici's request channel:
 * it then makes the CLIENT span. Looked up lazily so the package stays loadable where
 * `node:diagnostics_channel` does not exist.
 */
function undiciInstrumented(): boolean {
  if (channels === undefined) {
    const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
      ?.getBuiltinModule
    channels = (get?.('node:diagnostics_channel') as DiagnosticsChannel | undefined) ?? null
  }
  return channels?.hasSubscribers('undici:request:create') === true
}
