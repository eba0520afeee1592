/**
 * @module
 * `@sturdy/metrics`: Prometheus RED metrics and policy metrics on prom-client, with
 * bounded label cardinality. `httpMetrics()` measures every request
 * (`http_server_request_duration_seconds`, `http_server_active_requests`; route
 * templates, never raw paths), `metricsEndpoint()` / `metricsHandler()` /
 * `serveMetrics()` expose a registry with the right content type and OpenMetrics
 * exemplars, `clientMetrics()` measures outgoing calls of `@sturdy/client`
 * (`http_client_request_duration_seconds`), and `policyMetrics().observe(policy)` turns timeout, retry and breaker
 * events into `sturdy_*` metrics. Registries are injected; nothing is global.
 */
export type { ExtraLabel, LabelGuard } from './bounded-label.ts'
export { boundedLabel, OVERFLOW_VALUE } from './bounded-label.ts'
export { SEMCONV_DURATION_BUCKETS } from './buckets.ts'
export type { ClientMetricsInterceptor, ClientMetricsOptions } from './client-metrics.ts'
export { clientMetrics } from './client-metrics.ts'
export { isMetricConflictError, MetricConflictError } from './errors.ts'
export type { HttpMetricsMiddleware, HttpMetricsOptions } from './http-metrics.ts'
export { DEFAULT_SKIP_PATHS, httpMetrics } from './http-metrics.ts'
export type { AnyRegistry } from './instruments.ts'
export type { MetricsEndpointOptions } from './metrics-endpoint.ts'
export { metricsEndpoint } from './metrics-endpoint.ts'
export type { MetricsHandler, MetricsHandlerOptions, MetricsResponse } from './metrics-handler.ts'
export { metricsHandler } from './metrics-handler.ts'
export type { ExpositionFormat } from './negotiate.ts'
export { negotiateFormat } from './negotiate.ts'
export type { PolicyMetrics, PolicyMetricsOptions } from './policy-metrics.ts'
export { BREAKER_STATE_VALUES, policyMetrics } from './policy-metrics.ts'
export type { RpcMetricsInterceptor, RpcMetricsOptions } from './rpc-metrics.ts'
export { rpcMetrics } from './rpc-metrics.ts'
export type { MetricsServer, ServeMetricsOptions } from './serve-metrics.ts'
export { serveMetrics } from './serve-metrics.ts'
export type { TraceContextSource } from './trace-context.ts'
export { exchangeTrace } from './trace-context.ts'
