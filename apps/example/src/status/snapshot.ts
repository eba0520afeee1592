import type { Registry } from 'prom-client'

/** Cumulative numbers of one route at one moment. */
interface RouteTotals {
  service: string
  method: string
  route: string
  count: number
  errors: number
  /** Cumulative bucket counts by upper bound (seconds), `+Inf` last. */
  buckets: Array<[number, number]>
}

/** One reading of the registry (and the retry counters), at `at` ms. */
export interface Sample {
  at: number
  routes: Map<string, RouteTotals>
  counters: Map<string, number>
}

/** A route's live numbers over the window, as the status page shows them. */
export interface RouteStatus {
  service: string
  method: string
  route: string
  /** Requests per second over the window. */
  rps: number
  /** Share of 5xx answers over the window, 0..1 (null without requests). */
  errorRate: number | null
  /** 99th percentile latency over the window, in ms (null without requests). */
  p99Ms: number | null
  /** Requests since start. */
  total: number
}

const HISTOGRAM = 'http_server_request_duration_seconds'

/** Reads the RED histogram of the registry into per-route totals. */
export async function sample(
  registry: Registry,
  counters: Map<string, number>,
  at: number,
): Promise<Sample> {
  const metrics = await registry.getMetricsAsJSON()
  const histogram = metrics.find((m) => m.name === HISTOGRAM) as
    | {
        values: Array<{
          labels: Record<string, string | number>
          value: number
          metricName?: string
        }>
      }
    | undefined
  const routes = new Map<string, RouteTotals>()
  for (const v of histogram?.values ?? []) {
    const l = v.labels
    const key = `${l.service ?? ''} ${l.method} ${l.route}`
    let r = routes.get(key)
    if (r === undefined) {
      r = {
        service: String(l.service ?? ''),
        method: String(l.method),
        route: String(l.route),
        count: 0,
        errors: 0,
        buckets: [],
      }
      routes.set(key, r)
    }
    if (v.metricName === `${HISTOGRAM}_count`) {
      r.count += v.value
      if (Number(l.status_code) >= 500) r.errors += v.value
    } else if (v.metricName === `${HISTOGRAM}_bucket`) {
      const le = l.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(l.le)
      const slot = r.buckets.find(([b]) => b === le)
      if (slot === undefined) r.buckets.push([le, v.value])
      else slot[1] += v.value
    }
  }
  for (const r of routes.values()) r.buckets.sort((a, b) => a[0] - b[0])
  return { at, routes, counters: new Map(counters) }
}

/**
 * Per-route rate, error rate and p99 between two samples — what Prometheus'
 * `rate()` and `histogram_quantile()` would say over that window. Without an older
 * sample, since the process started.
 */
export function routeStatus(
  now: Sample,
  before: Sample | undefined,
  uptimeS: number,
): RouteStatus[] {
  const out: RouteStatus[] = []
  const seconds = before === undefined ? Math.max(uptimeS, 1e-3) : (now.at - before.at) / 1000
  for (const [key, r] of now.routes) {
    const old = before?.routes.get(key)
    const count = r.count - (old?.count ?? 0)
    const errors = r.errors - (old?.errors ?? 0)
    const buckets = r.buckets.map(
      ([le, c]) => [le, c - (old?.buckets.find(([b]) => b === le)?.[1] ?? 0)] as [number, number],
    )
    out.push({
      service: r.service,
      method: r.method,
      route: r.route,
      rps: seconds > 0 ? count / seconds : 0,
      errorRate: count > 0 ? errors / count : null,
      p99Ms: count > 0 ? quantile(0.99, buckets) * 1000 : null,
      total: r.count,
    })
  }
  return out.sort((a, b) => (a.service + a.route).localeCompare(b.service + b.route))
}

/**
 * `histogram_quantile`: linear interpolation inside the bucket where the rank falls;
 * in the `+Inf` bucket, the highest finite bound.
 */
export function quantile(q: number, buckets: ReadonlyArray<readonly [number, number]>): number {
  const total = buckets.at(-1)?.[1] ?? 0
  if (total <= 0) return Number.NaN
  const rank = q * total
  let prevBound = 0
  let prevCount = 0
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Number.POSITIVE_INFINITY) return prevBound
      const inBucket = count - prevCount
      return inBucket <= 0
        ? bound
        : prevBound + ((bound - prevBound) * (rank - prevCount)) / inBucket
    }
    prevBound = bound
    prevCount = count
  }
  return prevBound
}

/**
 * Keeps recent samples (at most one per `minGapMs`, none older than `windowMs` plus one
 * to compare against): taken when the page asks, so an unwatched status page costs
 * nothing and holds no timer.
 */
export function sampleWindow(windowMs = 10_000, minGapMs = 500) {
  const samples: Sample[] = []
  return {
    /** Adds `s` (unless the last is too recent) and returns the oldest within the window. */
    push(s: Sample): Sample | undefined {
      const last = samples.at(-1)
      if (last === undefined || s.at - last.at >= minGapMs) samples.push(s)
      while (samples.length > 1 && s.at - samples[1]!.at >= windowMs) samples.shift()
      const oldest = samples[0]
      return oldest === undefined || oldest === s ? undefined : oldest
    },
  }
}
