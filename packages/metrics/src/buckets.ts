/**
 * The explicit bucket boundaries (seconds) OpenTelemetry's HTTP semantic conventions
 * advise for `http.server.request.duration`. `@hono/prometheus`, `@hono/otel` and
 * instrumentation-http use the same ones, so dashboards built on any of them line up.
 * prom-client's own default lacks 0.075, 0.75 and 7.5.
 *
 * @see https://github.com/open-telemetry/semantic-conventions/blob/main/docs/http/http-metrics.md
 */
export const SEMCONV_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
])
