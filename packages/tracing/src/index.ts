/**
 * @module
 * `@sturdy/tracing`: OpenTelemetry tracing for Sturdy services through
 * `@opentelemetry/api` alone. `tracing()` gives each request one SERVER span — or
 * enriches the one `@opentelemetry/instrumentation-http` already started — and shares
 * its ids on the exchange; `injectTraceHeaders()` carries the context to the next
 * service; `traceEvents()` turns retries, breaker transitions and timeouts into span
 * events. The application registers the SDK; this package never needs one.
 */
export { contextFrom, injectTraceHeaders } from './inject.ts'
export { TRACER_NAME, tracing } from './server.ts'
export { traceEvents } from './trace-events.ts'
export type * from './types.ts'
