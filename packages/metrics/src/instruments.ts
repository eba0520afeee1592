import type { OpenMetricsContentType, PrometheusContentType } from 'prom-client'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { MetricConflictError } from './errors.ts'

/** A prom-client registry of either exposition format. */
export type AnyRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>

interface Shape {
  readonly name: string
  readonly help: string
  readonly labelNames: readonly string[]
}

interface HistogramShape extends Shape {
  readonly buckets: readonly number[]
  readonly exemplars: boolean
}

/** A private registry for callers that inject none. */
export function privateRegistry(): AnyRegistry {
  return new Registry()
}

/**
 * The registry's histogram `name`, created on first use. A second caller with the same
 * shape gets the same object back instead of prom-client's "already registered" throw
 * (HMR, tests, two app instances on one registry).
 */
export function histogramOn(registry: AnyRegistry, shape: HistogramShape): Histogram {
  const existing = reuse(registry, shape, 'histogram')
  if (existing !== undefined) {
    const bounds = (existing as unknown as { upperBounds: readonly number[] }).upperBounds
    if (!sameList(bounds, shape.buckets)) {
      throw new MetricConflictError(shape.name, `buckets [${bounds}] vs [${shape.buckets}]`)
    }
    return existing as Histogram
  }
  const histogram = new Histogram({
    name: shape.name,
    help: shape.help,
    labelNames: [...shape.labelNames],
    buckets: [...shape.buckets],
    enableExemplars: shape.exemplars,
    // prom-client refuses exemplar-enabled metrics on a registry whose *default* format
    // is Prometheus text. We negotiate the format per scrape (see `metricsHandler`), so
    // exemplars are stored always and printed only in OpenMetrics: register by hand.
    registers: [],
  })
  registry.registerMetric(histogram)
  return histogram
}

/** The registry's counter `name`, created on first use (see `histogramOn`). */
export function counterOn(registry: AnyRegistry, shape: Shape): Counter {
  const existing = reuse(registry, shape, 'counter')
  if (existing !== undefined) return existing as Counter
  return new Counter({
    name: shape.name,
    help: shape.help,
    labelNames: [...shape.labelNames],
    registers: [registry],
  })
}

/**
 * The registry's gauge `name`, created on first use (see `histogramOn`). `collect` runs
 * before each scrape (only on the instance that created the gauge).
 */
export function gaugeOn(registry: AnyRegistry, shape: Shape & { collect?: () => void }): Gauge {
  const existing = reuse(registry, shape, 'gauge')
  if (existing !== undefined) return existing as Gauge
  return new Gauge({
    name: shape.name,
    help: shape.help,
    labelNames: [...shape.labelNames],
    registers: [registry],
    ...(shape.collect === undefined ? {} : { collect: shape.collect }),
  })
}

/** True when a histogram supports `observe({ labels, value, exemplarLabels })`. */
export function hasExemplars(histogram: Histogram): boolean {
  return (histogram as unknown as { enableExemplars?: boolean }).enableExemplars === true
}

function reuse(registry: AnyRegistry, shape: Shape, type: string): unknown {
  const existing = registry.getSingleMetric(shape.name) as
    | { type?: string; labelNames?: readonly string[] }
    | undefined
  if (existing === undefined) return undefined
  if (existing.type !== type) {
    throw new MetricConflictError(shape.name, `type ${existing.type} vs ${type}`)
  }
  const labels = [...(existing.labelNames ?? [])].sort()
  const wanted = [...shape.labelNames].sort()
  if (!sameList(labels, wanted)) {
    throw new MetricConflictError(shape.name, `labels [${labels}] vs [${wanted}]`)
  }
  return existing
}

function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i])
}
