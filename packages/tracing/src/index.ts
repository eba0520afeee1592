/**
 * @module
 * `@sturdy/tracing`: OpenTelemetry tracing for Sturdy services through
 * `@opentelemetry/api` alone. `tracing()` gives each request one SERVER span — or
 * enriches the one `@opentelemetry/instrumentation-http` already started — and shares
 * its ids on the exchange; `injectTraceHeaders()` carries the context to the next
 * service; `clientSpans()` gives every attempt of a `@sturdy/client` call its own
 * CLIENT span; `traceEvents()` turns retries, breaker transitions and timeouts into span
 * events. The application registers the SDK; this package never needs one.
 */
export { clientSpans, REDACTED_QUERY_KEYS } from './client-spans.ts'
export { contextFrom, injectTraceHeaders } from './inject.ts'
export type { RpcSpansOptions } from './rpc-spans.ts'
export { rpcSpans } from './rpc-spans.ts'
export { TRACER_NAME, TRACER_VERSION, tracing } from './server.ts'
export { traceEvents } from './trace-events.ts'
export type * from './types.ts'
