import type { Span, TextMapPropagator, TracerProvider } from '@opentelemetry/api'
import type { Clock, Exchange } from '@sturdy/core'

/**
 * How the server middleware relates to a SERVER span that an HTTP server
 * instrumentation (`@opentelemetry/instrumentation-http`) already started:
 *
 * - `'auto'`: enrich that span when there is one, otherwise start our own.
 * - `'always-new'`: always start our own SERVER span (nested under the
 *   instrumentation's span when there is one — two SERVER spans per request).
 * - `'enrich-only'`: only ever enrich; without an instrumentation span, do nothing.
 */
export type TracingMode = 'auto' | 'always-new' | 'enrich-only'

/** Options of `tracing()`. */
export interface TracingOptions {
  /**
   * See `TracingMode`.
   * @default 'auto'
   */
  mode?: TracingMode
  /**
   * Where spans come from. OpenTelemetry's convention for libraries is the global API
   * provider: it is a no-op until the application registers an SDK, so the library
   * never needs one, and it picks up an SDK registered after the middleware is built.
   * @default the global provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProvider
  /**
   * Reads the caller's context (`traceparent`/`tracestate`, baggage ...) from request
   * headers.
   * @default the global propagator (`propagation` from `@opentelemetry/api`)
   */
  propagator?: TextMapPropagator
  /**
   * Requests to leave alone (health checks, `/metrics`): no span, no enrichment.
   * @default undefined (trace every request)
   */
  skip?: (ex: Exchange) => boolean
  /**
   * Tells whether the request's deadline (`ex.deadline`, set by `@sturdy/timeout`'s
   * `deadline()`) had passed when the request finished. Give it the clock you give
   * `deadline()`.
   * @default systemClock
   */
  clock?: Clock
}

/** Options of `traceEvents()`. */
export interface TraceEventsOptions {
  /**
   * The span an event goes to, looked up when the policy emits. Events are dropped when
   * it returns undefined or a span that is no longer recording (already ended).
   * @default `trace.getActiveSpan` (needs a context manager, e.g. the SDK's AsyncLocalStorage one)
   */
  activeSpan?: () => Span | undefined
}

/**
 * Outgoing headers `injectTraceHeaders` writes to: a Fetch `Headers` or a plain record
 * (node:http `OutgoingHttpHeaders`, undici `request()` headers).
 */
export type HeaderCarrier = Headers | Record<string, string | string[] | number | undefined>

/** Options of `clientSpans()`. */
export interface ClientSpansOptions {
  /**
   * Where spans come from (see `TracingOptions.tracerProvider` for why it is global).
   * @default the global provider (`trace.getTracerProvider()`)
   */
  tracerProvider?: TracerProvider
  /**
   * Writes the attempt's context (`traceparent`, `tracestate`, baggage) on its headers.
   * @default the global propagator (`propagation`)
   */
  propagator?: TextMapPropagator
  /**
   * More query keys whose values `url.full` shows as `REDACTED`, besides
   * `REDACTED_QUERY_KEYS` (semconv's presigned-URL keys and common secrets).
   * @default []
   */
  redactQueryKeys?: readonly string[]
  /**
   * `'auto'`: no span of our own when `@opentelemetry/instrumentation-undici` listens
   * to undici's diagnostics channel (it makes one per request already); `'always'`:
   * always make ours.
   * @default 'auto'
   */
  mode?: 'auto' | 'always'
}
