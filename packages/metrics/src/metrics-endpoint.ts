import type { Exchange, Middleware } from '@sturdy/core'
import { respondProblem } from '@sturdy/core'
import type { MetricsHandlerOptions } from './metrics-handler.ts'
import { metricsHandler } from './metrics-handler.ts'

/** Options of `metricsEndpoint`. */
export interface MetricsEndpointOptions extends MetricsHandlerOptions {
  /** The path it answers (exact match, GET and HEAD). @default '/metrics' */
  path?: string
}

/**
 * Serves the registry at `path` on the app's own port, as Sturdy middleware: GET and HEAD
 * on that path are answered with the negotiated format (see `metricsHandler`); every
 * other request passes through untouched. For a separate port use `serveMetrics`.
 *
 * @param options see `MetricsEndpointOptions`
 * @param options.registry the registry to expose (required)
 * @param options.path @default '/metrics'
 * @param options.openMetrics @default true
 * @returns a named Sturdy middleware
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { httpMetrics, metricsEndpoint } from '@sturdy/metrics'
 *
 * const http = httpMetrics()
 * const app = new Hono().use(sturdy(metricsEndpoint({ registry: http.registry }), http))
 */
export function metricsEndpoint(options: MetricsEndpointOptions): Middleware {
  const path = options.path ?? '/metrics'
  const scrape = metricsHandler(options)
  return async function metricsEndpointMiddleware(ex: Exchange, next): Promise<void> {
    if (ex.path !== path || (ex.method !== 'GET' && ex.method !== 'HEAD')) return next()
    try {
      const { contentType, body } = await scrape(ex.header('accept'))
      ex.respond(200, ex.method === 'HEAD' ? null : body, {
        'content-type': contentType,
        'cache-control': 'no-store',
        vary: 'accept',
      })
    } catch (error) {
      // A failing collect callback: a bare 500, never its message or stack.
      respondProblem(ex, error)
    }
  }
}
