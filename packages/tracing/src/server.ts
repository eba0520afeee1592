import type {
  Attributes,
  Context,
  Span,
  TextMapGetter,
  TextMapPropagator,
  Tracer,
} from '@opentelemetry/api'
import {
  context,
  isSpanContextValid,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api'
import type { ChaosMark, Clock, Exchange, Middleware, Next, TraceContext } from '@sturdy/core'
import {
  abortKind,
  normalizeMethod,
  OTHER_METHOD,
  systemClock,
  UNMATCHED_ROUTE,
  VALUES,
} from '@sturdy/core'
import pkg from '../package.json' with { type: 'json' }
import { errorMessage, errorType, toException } from './error-type.ts'
import type { HttpRpcMetadata } from './rpc-metadata.ts'
import { httpRpcMetadata, RPC_METADATA_KEY } from './rpc-metadata.ts'
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_STURDY_ABORT_KIND,
  ATTR_STURDY_CHAOS_INJECTED,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
  EVENT_DEADLINE_EXCEEDED,
  EVENT_REQUEST_ABORTED,
} from './semconv.ts'
import { addServerAddress } from './server-address.ts'
import type { TracingMode, TracingOptions } from './types.ts'

/** The instrumentation scope name of every span and tracer this package makes. */
export const TRACER_NAME = '@sturdy/tracing'

/** The instrumentation scope version: this package's version. */
export const TRACER_VERSION: string = pkg.version

const MODES: ReadonlySet<TracingMode> = new Set(['auto', 'always-new', 'enrich-only'])

/** Marks the RPC metadata of our own spans; `Symbol.for` so duplicate package copies agree. */
const OWN: unique symbol = Symbol.for('@sturdy/tracing.own') as never
type OwnMetadata = HttpRpcMetadata & { [OWN]?: true }

/**
 * Server middleware that gives every request one SERVER span, named `METHOD route`
 * once the route is known, with the stable HTTP semantic-convention attributes.
 *
 * - The caller's W3C `traceparent`/`tracestate` are read through the propagation API;
 *   a malformed header starts a new trace and never throws.
 * - Handlers run inside the span's context (`context.with`), so the spans they start
 *   are its children when a context manager is registered.
 * - The span's ids are shared on the exchange as `VALUES.trace` (`c.var.trace` in
 *   Hono), so logs and metrics correlate without AsyncLocalStorage.
 * - Exceptions are recorded; a 5xx or an escaping error sets the ERROR status.
 * - In `'auto'` mode, when `@opentelemetry/instrumentation-http` already started the
 *   request's SERVER span, that span is enriched (name, `http.route`, and the route its
 *   `http.server.request.duration` metric reads) instead of nesting a duplicate.
 *
 * Without an OpenTelemetry SDK registered, spans are no-ops and nothing is exported.
 *
 * @param options.mode `'auto'`, `'always-new'` or `'enrich-only'`; @default 'auto'
 * @param options.tracerProvider where spans come from; @default the global API provider
 * @param options.propagator reads the caller's context from headers; @default the global propagator
 * @param options.skip requests to leave untraced; @default undefined (trace all)
 * @param options.clock the clock `deadline()` uses, to tell an expired deadline; @default systemClock
 * @returns a named Sturdy middleware that sets `trace` (a `TraceContext`) on the exchange
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { tracing } from '@sturdy/tracing'
 *
 * const app = new Hono().use(sturdy(tracing({ skip: (ex) => ex.path === '/healthz' })))
 * app.get('/users/:id', (c) => c.json({ traceId: c.var.trace?.traceId }))
 */
export function tracing(options: TracingOptions = {}): Middleware<{ trace: TraceContext }> {
  const mode = options.mode ?? 'auto'
  if (!MODES.has(mode)) throw new TypeError(`tracing(): unknown mode ${JSON.stringify(mode)}`)
  const provider = options.tracerProvider ?? trace.getTracerProvider()
  const tracer = provider.getTracer(TRACER_NAME, TRACER_VERSION)
  const propagator = options.propagator ?? propagation
  const skip = options.skip
  const clock = options.clock ?? systemClock
  const names = spanNames()

  // Not `async`: it returns `serve()`'s or `next()`'s promise as it is. An async function
  // resolved with a promise costs two more promises and two microtask turns, and on
  // Node 20, under AsyncLocalStorage, every promise runs a hook (bench/README.md).
  return function traceRequest(ex: Exchange, next: Next): Promise<void> {
    try {
      if (skip?.(ex) === true) return next()
      const active = context.active()
      const existing = httpRpcMetadata(active)
      if (existing !== undefined && mode !== 'always-new') {
        // Another tracing() mount owns this span and records everything once, itself.
        if ((existing as OwnMetadata)[OWN] === true) return next()
        return enrich(ex, next, existing, names, clock)
      }
      if (mode === 'enrich-only') return next()
      // Under an instrumentation's span, nest: it already honoured the caller's headers.
      const parent = existing === undefined ? extract(propagator, active, ex) : active
      return serve(ex, next, tracer, parent, names, clock)
    } catch (error) {
      // A throwing `skip` rejects, as it did when this function was async.
      return Promise.reject(error)
    }
  }
}

async function serve(
  ex: Exchange,
  next: Next,
  tracer: Tracer,
  parent: Context,
  names: SpanNames,
  clock: Clock,
): Promise<void> {
  const method = normalizeMethod(ex.method)
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: method,
    [ATTR_URL_PATH]: ex.path,
    [ATTR_URL_SCHEME]: ex.scheme,
  }
  if (method === OTHER_METHOD) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = ex.method
  addServerAddress(attributes, ex.host)
  const userAgent = ex.header('user-agent')
  if (userAgent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent

  const span = tracer.startSpan(names.of(method), { kind: SpanKind.SERVER, attributes }, parent)
  shareTraceContext(ex, span)
  // Our span carries HTTP RPC metadata too, so a second `tracing()` mount (or any
  // framework layer that reports routes this way) enriches it instead of nesting.
  const metadata: OwnMetadata = { type: 'http', span, [OWN]: true }
  const ctx = trace.setSpan(parent, span).setValue(RPC_METADATA_KEY, metadata)

  let threw = false
  let thrown: unknown
  try {
    await context.with(ctx, next)
  } catch (error) {
    threw = true
    thrown = error
    throw error
  } finally {
    const route = ex.route()
    if (route !== UNMATCHED_ROUTE) {
      metadata.route = route
      span.updateName(names.of(method, route))
      span.setAttribute(ATTR_HTTP_ROUTE, route)
    }
    if (threw) {
      // The error escaped the framework: no response status is known yet.
      span.recordException(toException(thrown))
      span.setAttribute(ATTR_ERROR_TYPE, errorType(thrown))
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(thrown) })
    } else {
      const status = ex.status
      const error = ex.error
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status)
      if (error !== undefined) span.recordException(toException(error))
      // Semconv: on a server span only 5xx are errors; 4xx are the client's.
      if (status >= 500) {
        span.setAttribute(ATTR_ERROR_TYPE, String(status))
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) })
      }
    }
    recordAbort(ex, span, clock)
    recordChaos(ex, span)
    span.end()
  }
}

/**
 * Enriches the SERVER span an HTTP server instrumentation started. That instrumentation
 * owns the span's end, status and `http.response.status_code` (it sees the Node
 * response); we add what only the framework layer knows: the route and the exception.
 */
async function enrich(
  ex: Exchange,
  next: Next,
  metadata: HttpRpcMetadata,
  names: SpanNames,
  clock: Clock,
): Promise<void> {
  const span = metadata.span
  shareTraceContext(ex, span)
  let threw = false
  let thrown: unknown
  try {
    await next()
  } catch (error) {
    threw = true
    thrown = error
    throw error
  } finally {
    const route = ex.route()
    if (route !== UNMATCHED_ROUTE) {
      // instrumentation-http reads this when the response closes, for both its span
      // name and the `http.route` label of `http.server.request.duration`.
      metadata.route = route
      span.updateName(names.of(normalizeMethod(ex.method), route))
      span.setAttribute(ATTR_HTTP_ROUTE, route)
    }
    const error = threw ? thrown : ex.error
    if (error !== undefined) span.recordException(toException(error))
    if (threw) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType(thrown))
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(thrown) })
    } else if (ex.status >= 500) {
      // The instrumentation sets ERROR for a 5xx but puts `error.type` on its metric only.
      span.setAttribute(ATTR_ERROR_TYPE, String(ex.status))
    }
    recordAbort(ex, span, clock)
    recordChaos(ex, span)
  }
}

const EXCHANGE_GETTER: TextMapGetter<Exchange> = {
  // The Exchange looks headers up by name only; W3C trace context and baggage need no more.
  keys: () => [],
  get: (ex, key) => ex.header(key),
}

/** The caller's context; a propagator that throws must not fail the request. */
function extract(propagator: TextMapPropagator, active: Context, ex: Exchange): Context {
  try {
    return propagator.extract(active, ex, EXCHANGE_GETTER)
  } catch {
    return active
  }
}

function shareTraceContext(ex: Exchange, span: Span): void {
  const sc = span.spanContext()
  // No SDK and no caller: the span context is all zeros, which must not reach logs.
  if (!isSpanContextValid(sc)) return
  const traceState = sc.traceState?.serialize()
  const value: TraceContext =
    traceState === undefined || traceState === ''
      ? { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags }
      : { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags, traceState }
  ex.set(VALUES.trace, value)
}

/**
 * Deadline expiry and other aborts, read from the exchange rather than from timeout
 * events (see docs/tracing.md). The deadline middleware answers 504 at once and aborts
 * the request signal a macrotask later, so an expired deadline is told by the clock;
 * `ex.aborted` covers aborts that already happened.
 */
function recordAbort(ex: Exchange, span: Span, clock: Clock): void {
  const deadline = ex.deadline
  if (deadline !== undefined && clock.now() >= deadline) {
    span.addEvent(EVENT_DEADLINE_EXCEEDED)
    return
  }
  if (!ex.aborted) return
  const kind = abortKind(ex.signal.reason)
  if (kind === 'deadline') span.addEvent(EVENT_DEADLINE_EXCEEDED)
  else span.addEvent(EVENT_REQUEST_ABORTED, { [ATTR_STURDY_ABORT_KIND]: kind })
}

/**
 * Faults `@sturdy/chaos` injected into the request, as one attribute (`kind:name` each):
 * whoever reads the trace sees a drill, even without a context manager for span events.
 */
function recordChaos(ex: Exchange, span: Span): void {
  const marks = ex.get<readonly ChaosMark[]>(VALUES.chaos)
  if (marks === undefined || marks.length === 0) return
  span.setAttribute(
    ATTR_STURDY_CHAOS_INJECTED,
    marks.map((m) => `${m.kind}:${m.name}`),
  )
}

interface SpanNames {
  /** `GET`, `GET /users/:id`; `HTTP` stands in for `_OTHER`, as semconv asks. */
  of(method: string, route?: string): string
}

/** Span names cached per route and method: both sets are bounded (templates, known methods). */
function spanNames(): SpanNames {
  const byRoute = new Map<string, Map<string, string>>()
  return {
    of(method, route) {
      const prefix = method === OTHER_METHOD ? 'HTTP' : method
      if (route === undefined) return prefix
      let byMethod = byRoute.get(route)
      if (byMethod === undefined) {
        byMethod = new Map()
        byRoute.set(route, byMethod)
      }
      let name = byMethod.get(method)
      if (name === undefined) {
        name = `${prefix} ${route}`
        byMethod.set(method, name)
      }
      return name
    },
  }
}
