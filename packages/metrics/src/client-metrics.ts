import type { ClientInterceptor, Clock, IncomingResponse, OutgoingRequest } from '@sturdy/core'
import { normalizeMethod, outgoingErrorType, systemClock } from '@sturdy/core'
import type { Histogram } from 'prom-client'
import { boundedLabel } from './bounded-label.ts'
import { SEMCONV_DURATION_BUCKETS } from './buckets.ts'
import type { AnyRegistry } from './instruments.ts'
import { histogramOn, privateRegistry } from './instruments.ts'

/** Options of `clientMetrics()`. */
export interface ClientMetricsOptions {
  /** Where the metric lives. @default a new private `Registry`, exposed as `.registry` */
  registry?: AnyRegistry
  /** Histogram bucket boundaries in seconds. @default SEMCONV_DURATION_BUCKETS */
  buckets?: readonly number[]
  /**
   * Distinct servers (`server_address` + `server_port`) with series of their own; later
   * ones share `__other__`. @default 50
   */
  maxServers?: number
  /** Distinct `error_type` values kept; later ones share `__other__`. @default 20 */
  maxErrorTypes?: number
  /** Time source. @default systemClock */
  clock?: Clock
}

/** The client interceptor, with the registry it records into. */
export type ClientMetricsInterceptor = ClientInterceptor & {
  /** The registry the metric lives in. */
  readonly registry: AnyRegistry
}

const LABELS = ['method', 'server_address', 'server_port', 'status_code', 'error_type'] as const

/**
 * An interceptor for `@sturdy/client` (any client speaking core's `ClientInterceptor`
 * contract) recording `http_client_request_duration_seconds`, the Prometheus name of
 * OpenTelemetry's `http.client.request.duration`: one observation per attempt (a retry
 * is a request of its own), from dispatch to the end of the response body.
 *
 * Labels, all bounded: `method` (unknown methods → `_OTHER`), `server_address` and
 * `server_port` (the first `maxServers` servers, then `__other__`), `status_code`
 * (empty when no response came), `error_type` (the status for ≥ 400, else the
 * failure's type — `connect_timeout`, `ECONNREFUSED`, `BrokenCircuitError` — the first
 * `maxErrorTypes`, then `__other__`; empty on success).
 *
 * @param options registry, buckets, label bounds, clock
 * @returns the interceptor, with `.registry`
 * @example
 * import { Registry } from 'prom-client'
 * import { createClient } from '@sturdy/client'
 * import { clientMetrics } from '@sturdy/metrics'
 *
 * const registry = new Registry()
 * const inventory = createClient({ interceptors: [clientMetrics({ registry })] })
 */
export function clientMetrics(options: ClientMetricsOptions = {}): ClientMetricsInterceptor {
  const registry = options.registry ?? privateRegistry()
  const histogram = histogramOn(registry, {
    name: 'http_client_request_duration_seconds',
    help: 'Duration of outgoing HTTP requests (each attempt), to the end of the response body.',
    labelNames: LABELS,
    buckets: options.buckets ?? SEMCONV_DURATION_BUCKETS,
    exemplars: false,
  })
  const clock = options.clock ?? systemClock
  const server = boundedLabel({ maxValues: options.maxServers ?? 50 })
  const errorType = boundedLabel({ maxValues: options.maxErrorTypes ?? 20 })
  const children = new Map<string, { observe(value: number): void }>()

  const record = (
    request: OutgoingRequest,
    status: number | undefined,
    error: string,
    seconds: number,
  ): void => {
    const address = server(`${request.host}:${request.port}`)
    const method = normalizeMethod(request.method)
    const statusCode = status === undefined ? '' : String(status)
    const type = errorType(error)
    const key = `${method}\n${address}\n${statusCode}\n${type}`
    let child = children.get(key)
    if (child === undefined) {
      const overflow = address === '__other__'
      child = (histogram as Histogram<(typeof LABELS)[number]>).labels({
        method,
        server_address: overflow ? address : request.host,
        server_port: overflow ? '' : String(request.port),
        status_code: statusCode,
        error_type: type,
      })
      children.set(key, child)
    }
    child.observe(seconds)
  }

  const interceptor = async function recordClientMetrics(
    request: OutgoingRequest,
    next: () => Promise<IncomingResponse>,
  ): Promise<IncomingResponse> {
    const started = clock.now()
    let response: IncomingResponse
    try {
      response = await next()
    } catch (error) {
      record(request, undefined, outgoingErrorType(error), (clock.now() - started) / 1000)
      throw error
    }
    const status = response.status
    response.onDone((error) => {
      const type =
        status >= 400 ? String(status) : error === undefined ? '' : outgoingErrorType(error)
      record(request, status, type, (clock.now() - started) / 1000)
    })
    return response
  }
  return Object.assign(interceptor, { registry })
}
