import type { Exchange, TraceContext } from '@sturdy/core'
import { VALUES } from '@sturdy/core'

/** Finds the trace of the request, for exemplars. */
export type TraceContextSource = (ex: Exchange) => TraceContext | undefined

/**
 * The default trace source: the `trace` value `@sturdy/tracing` shares on the Exchange
 * (core `VALUES.trace`). It needs no OpenTelemetry import and no AsyncLocalStorage.
 *
 * @param ex the request
 * @returns the request's span identifiers, or undefined when no tracing runs
 * @example
 * httpMetrics({ traceContext: exchangeTrace }) // the default
 */
export function exchangeTrace(ex: Exchange): TraceContext | undefined {
  return ex.get<TraceContext>(VALUES.trace)
}
