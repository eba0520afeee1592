import { errorGuard, SturdyError } from '@sturdy/core'

/**
 * A metric name is already registered on the registry with a different shape (type,
 * label names or buckets), so it cannot be reused. Two instances with the same options
 * never raise it: they share the metric.
 */
export class MetricConflictError extends SturdyError {
  /** The conflicting metric name. */
  readonly metric: string
  /**
   * @param metric the metric name
   * @param detail what differs
   */
  constructor(metric: string, detail: string) {
    super(
      'METRIC_CONFLICT',
      `Metric ${metric} is already registered with a different shape: ${detail}`,
      500,
    )
    this.name = 'MetricConflictError'
    this.metric = metric
  }
}

/**
 * True for a `MetricConflictError` from any copy of the package.
 *
 * @param error any thrown value
 * @returns whether it is a `MetricConflictError`
 * @example
 * try { httpMetrics({ registry, labels: { tenant } }) } catch (e) { if (isMetricConflictError(e)) ... }
 */
export const isMetricConflictError: (error: unknown) => error is MetricConflictError =
  errorGuard<MetricConflictError>('METRIC_CONFLICT')
