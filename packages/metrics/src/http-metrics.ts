import type { Clock, Exchange, Middleware, TraceContext } from '@sturdy/core'
import { normalizeMethod, systemClock } from '@sturdy/core'
import type {
  DefaultMetricsCollectorConfiguration,
  Histogram,
  RegistryContentType,
} from 'prom-client'
import { collectDefaultMetrics } from 'prom-client'
import type { ExtraLabel, LabelGuard } from './bounded-label.ts'
import { boundedLabel } from './bounded-label.ts'
import { SEMCONV_DURATION_BUCKETS } from './buckets.ts'
import type { InFlightCell } from './in-flight.ts'
import { inFlightGauge } from './in-flight.ts'
import type { AnyRegistry } from './instruments.ts'
import { hasExemplars, histogramOn, privateRegistry } from './instruments.ts'
import type { TraceContextSource } from './trace-context.ts'
import { exchangeTrace } from './trace-context.ts'

/** Paths `httpMetrics` leaves out unless told otherwise: the scrape and the probes. */
export const DEFAULT_SKIP_PATHS: readonly string[] = Object.freeze([
  '/metrics',
  '/health',
  '/healthz',
  '/livez',
  '/readyz',
])

/** Options of `httpMetrics`. */
export interface HttpMetricsOptions {
  /** Where the metrics live. @default a new private `Registry`, exposed as `.registry` */
  registry?: AnyRegistry
  /** Histogram bucket boundaries in seconds. @default SEMCONV_DURATION_BUCKETS */
  buckets?: readonly number[]
  /**
   * Requests not measured: exact paths, or a predicate run before the request.
   * @default DEFAULT_SKIP_PATHS (`/metrics`, `/health`, `/healthz`, `/livez`, `/readyz`)
   */
  skip?: readonly string[] | ((ex: Exchange) => boolean)
  /** Extra bounded labels on the duration histogram, by label name. @default {} */
  labels?: Readonly<Record<string, ExtraLabel>>
  /** Attach `trace_id`/`span_id` exemplars (shown with OpenMetrics) for sampled traces. @default true */
  exemplars?: boolean
  /** Where the request's trace comes from. @default exchangeTrace (core `VALUES.trace`) */
  traceContext?: TraceContextSource
  /** Time source. @default systemClock */
  clock?: Clock
  /**
   * Also collect prom-client's process and Node.js metrics on the registry (once per
   * registry). `true` or a prom-client config (its `register` is ignored). @default false
   */
  collectDefaultMetrics?:
    | boolean
    | Omit<DefaultMetricsCollectorConfiguration<RegistryContentType>, 'register'>
}

/** The server middleware, with the registry it records into. */
export type HttpMetricsMiddleware = Middleware & {
  /** The registry the metrics live in: serve it with `metricsEndpoint` or `serveMetrics`. */
  readonly registry: AnyRegistry
}

const BASE_LABELS = ['method', 'route', 'status_code'] as const
const RESERVED_LABELS: ReadonlySet<string> = new Set([...BASE_LABELS, 'le'])

interface Leaf {
  readonly labels: Record<string, string>
  readonly observe: (seconds: number) => void
}
type Trie = Map<string, Trie | Leaf>

interface MethodEntry {
  readonly active: InFlightCell
  readonly routes: Trie
}

/**
 * RED metrics for every request, named after the OpenTelemetry HTTP conventions:
 * `http_server_request_duration_seconds` (histogram; labels `method`, `route`,
 * `status_code` plus bounded extras) and `http_server_active_requests` (gauge by `method`).
 *
 * `route` is the route template (`/users/:id`); every unmatched request shares core's
 * `UNMATCHED_ROUTE`, so random URLs never add series. Unknown methods become `_OTHER`.
 * Labelled children are cached per label combination, so a request costs a few map
 * lookups and one prom-client `observe`.
 *
 * @param options see `HttpMetricsOptions`
 * @param options.registry @default a new private Registry
 * @param options.buckets @default SEMCONV_DURATION_BUCKETS
 * @param options.skip @default DEFAULT_SKIP_PATHS
 * @param options.labels @default {}
 * @param options.exemplars @default true
 * @param options.traceContext @default exchangeTrace
 * @param options.clock @default systemClock
 * @param options.collectDefaultMetrics @default false
 * @returns a named Sturdy middleware with a `registry` property
 * @example
 * import { Hono } from 'hono'
 * import { Registry } from 'prom-client'
 * import { sturdy } from '@sturdy/hono'
 * import { httpMetrics, metricsEndpoint } from '@sturdy/metrics'
 *
 * const registry = new Registry()
 * const app = new Hono().use(sturdy(metricsEndpoint({ registry }), httpMetrics({ registry })))
 * app.get('/users/:id', (c) => c.json({ id: c.req.param('id') }))
 */
export function httpMetrics(options: HttpMetricsOptions = {}): HttpMetricsMiddleware {
  const registry = options.registry ?? privateRegistry()
  const clock = options.clock ?? systemClock
  const traceOf = options.traceContext ?? exchangeTrace
  const skip = skipper(options.skip ?? DEFAULT_SKIP_PATHS)
  const extras = Object.entries(options.labels ?? {})
  for (const [name] of extras) {
    if (RESERVED_LABELS.has(name)) throw new TypeError(`Label name ${name} is reserved`)
  }
  const extraNames = extras.map(([name]) => name)
  const extraReads = extras.map(([, label]) => label.value)
  const extraGuards: LabelGuard[] = extras.map(([, label]) => boundedLabel(label))
  const extraCount = extras.length

  const duration: Histogram = histogramOn(registry, {
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    labelNames: [...BASE_LABELS, ...extraNames],
    buckets: options.buckets ?? SEMCONV_DURATION_BUCKETS,
    exemplars: options.exemplars ?? true,
  })
  // A histogram someone created without exemplars (reused) cannot take them.
  const exemplars = options.exemplars !== false && hasExemplars(duration)
  const active = inFlightGauge(registry, {
    name: 'http_server_active_requests',
    help: 'Number of HTTP server requests in flight.',
    labelName: 'method',
  })
  if (options.collectDefaultMetrics) enableDefaultMetrics(registry, options.collectDefaultMetrics)

  const methods = new Map<string, MethodEntry>()
  const methodEntry = (method: string): MethodEntry => {
    let entry = methods.get(method)
    if (entry === undefined) {
      entry = { active: active(method), routes: new Map() }
      methods.set(method, entry)
    }
    return entry
  }

  const leafFor = (
    method: string,
    routes: Trie,
    route: string,
    status: string,
    ex: Exchange,
  ): Leaf => {
    const byRoute = step(routes, route)
    if (extraCount === 0) {
      let leaf = byRoute.get(status) as Leaf | undefined
      if (leaf === undefined) {
        leaf = makeLeaf(duration, { method, route, status_code: status })
        byRoute.set(status, leaf)
      }
      return leaf
    }
    const values: string[] = new Array(extraCount)
    for (let i = 0; i < extraCount; i++) {
      values[i] = extraGuards[i]!(readSafely(extraReads[i]!, ex))
    }
    let node = step(byRoute, status)
    for (let i = 0; i < extraCount - 1; i++) node = step(node, values[i]!)
    const last = values[extraCount - 1]!
    let leaf = node.get(last) as Leaf | undefined
    if (leaf === undefined) {
      const labels: Record<string, string> = { method, route, status_code: status }
      for (let i = 0; i < extraCount; i++) labels[extraNames[i]!] = values[i]!
      leaf = makeLeaf(duration, labels)
      node.set(last, leaf)
    }
    return leaf
  }

  const record = (
    method: string,
    routes: Trie,
    ex: Exchange,
    status: number,
    seconds: number,
  ): void => {
    const leaf = leafFor(method, routes, ex.route(), statusLabel(status), ex)
    const trace: TraceContext | undefined = exemplars ? traceSafely(traceOf, ex) : undefined
    if (trace !== undefined && (trace.traceFlags & 1) === 1) {
      duration.observe({
        labels: leaf.labels,
        value: seconds,
        exemplarLabels: { trace_id: trace.traceId, span_id: trace.spanId },
      } as never)
    } else {
      leaf.observe(seconds)
    }
  }

  async function httpMetricsMiddleware(ex: Exchange, next: () => Promise<void>): Promise<void> {
    if (skip(ex)) return next()
    const method = normalizeMethod(ex.method)
    const entry = methodEntry(method)
    entry.active.inc()
    const start = clock.now()
    let failed = false
    try {
      await next()
    } catch (error) {
      failed = true
      throw error
    } finally {
      entry.active.dec()
      const seconds = (clock.now() - start) / 1000
      // A throw that escaped the adapter has no error response yet: it will be a 500.
      const status = failed && ex.status < 500 ? 500 : ex.status
      try {
        record(method, entry.routes, ex, status, seconds)
      } catch {
        // Recording must never replace the request's own outcome (e.g. a trace source
        // that throws, or an exemplar prom-client rejects as too long).
      }
    }
  }
  return Object.assign(httpMetricsMiddleware, { registry })
}

function step(node: Trie, key: string): Trie {
  let next = node.get(key) as Trie | undefined
  if (next === undefined) {
    next = new Map()
    node.set(key, next)
  }
  return next
}

function makeLeaf(histogram: Histogram, labels: Record<string, string>): Leaf {
  return { labels, observe: histogram.labels(labels).observe }
}

function traceSafely(source: TraceContextSource, ex: Exchange): TraceContext | undefined {
  try {
    return source(ex)
  } catch {
    // A broken trace source costs the exemplar, not the observation.
    return undefined
  }
}

function readSafely(read: (ex: Exchange) => string | undefined, ex: Exchange): string | undefined {
  try {
    return read(ex)
  } catch {
    // A label must never break the request it measures.
    return undefined
  }
}

const STATUS_LABELS: string[] = []

/** Status strings are cached; values outside 100–599 share one label. */
function statusLabel(status: number): string {
  if (!(status >= 100 && status <= 599)) return '_OTHER'
  const i = status | 0
  let label = STATUS_LABELS[i]
  if (label === undefined) {
    label = String(i)
    STATUS_LABELS[i] = label
  }
  return label
}

function skipper(skip: readonly string[] | ((ex: Exchange) => boolean)): (ex: Exchange) => boolean {
  if (typeof skip === 'function') return skip
  if (skip.length === 0) return () => false
  const paths = new Set(skip)
  return (ex) => paths.has(ex.path)
}

function enableDefaultMetrics(
  registry: AnyRegistry,
  config: true | Omit<DefaultMetricsCollectorConfiguration<RegistryContentType>, 'register'>,
): void {
  const settings = config === true ? {} : config
  // prom-client throws "already registered" on a second call for the same registry.
  const probe = `${settings.prefix ?? ''}process_cpu_user_seconds_total`
  if (registry.getSingleMetric(probe) !== undefined) return
  collectDefaultMetrics({
    ...settings,
    register: registry,
  } as DefaultMetricsCollectorConfiguration<RegistryContentType>)
}
