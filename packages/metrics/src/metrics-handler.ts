import type { RegistryContentType } from 'prom-client'
import { Registry } from 'prom-client'
import type { AnyRegistry } from './instruments.ts'
import type { ExpositionFormat } from './negotiate.ts'
import { negotiateFormat } from './negotiate.ts'

/** What a scrape answers with. */
export interface MetricsResponse {
  /** The exact content type prom-client's registry declares for `body`'s format. */
  readonly contentType: string
  readonly body: string
}

/** Renders the registry for one scrape, given the scraper's `Accept` header. */
export type MetricsHandler = (accept?: string) => Promise<MetricsResponse>

/** Options of `metricsHandler`. */
export interface MetricsHandlerOptions {
  /** The registry to expose. */
  registry: AnyRegistry
  /** Offer OpenMetrics (with exemplars) to scrapers that ask for it. @default true */
  openMetrics?: boolean
}

/**
 * A framework-neutral scrape: `(accept) => { contentType, body }`. The body is in the
 * format the `Accept` header prefers — Prometheus text 0.0.4 or OpenMetrics 1.0.0 (which
 * carries exemplars) — and `contentType` is prom-client's own for that format, never a
 * bare `text/plain`. Use it from any router; `metricsEndpoint` and `serveMetrics` do.
 *
 * @param options see `MetricsHandlerOptions`
 * @param options.registry the registry to expose (required)
 * @param options.openMetrics @default true
 * @returns an async function from `Accept` header to response parts
 * @example
 * import { Registry } from 'prom-client'
 * import { metricsHandler } from '@sturdy/metrics'
 *
 * const scrape = metricsHandler({ registry: new Registry() })
 * const { contentType, body } = await scrape('application/openmetrics-text')
 */
export function metricsHandler(options: MetricsHandlerOptions): MetricsHandler {
  const { registry } = options
  const openMetrics = options.openMetrics ?? true
  return async function scrapeMetrics(accept?: string): Promise<MetricsResponse> {
    const own: ExpositionFormat =
      registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE ? 'openmetrics' : 'prometheus'
    const format = openMetrics ? negotiateFormat(accept, own) : 'prometheus'
    // The common case renders the shared registry itself. OpenMetrics never does: see renderAs.
    if (format === 'prometheus' && own === 'prometheus') {
      return { contentType: registry.contentType, body: await registry.metrics() }
    }
    return renderAs(registry, format)
  }
}

/**
 * Renders through a throwaway registry of the wanted format holding thin views of the
 * metrics. Switching `setContentType` on the shared registry would race concurrent
 * scrapes, and prom-client's OpenMetrics writer renames counters in place (strips
 * `_total` from `metric.name`), which would break every later Prometheus-text scrape.
 * The views take that rename on themselves; the metrics' data is read through them.
 */
async function renderAs(registry: AnyRegistry, format: ExpositionFormat): Promise<MetricsResponse> {
  const target = new Registry<RegistryContentType>()
  // A fresh registry nobody else sees: switching its format here races nothing.
  if (format === 'openmetrics') target.setContentType(Registry.OPENMETRICS_CONTENT_TYPE)
  // Registry has no getter for its default labels; the field is stable across 11.x–15.x.
  const defaults = (registry as unknown as { _defaultLabels?: object })._defaultLabels
  if (defaults !== undefined) target.setDefaultLabels(defaults)
  for (const metric of registry.getMetricsAsArray()) {
    target.registerMetric(Object.create(metric))
  }
  return { contentType: target.contentType, body: await target.metrics() }
}
