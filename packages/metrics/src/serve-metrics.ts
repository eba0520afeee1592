import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { MetricsHandlerOptions } from './metrics-handler.ts'
import { metricsHandler } from './metrics-handler.ts'

/** Options of `serveMetrics`. */
export interface ServeMetricsOptions extends MetricsHandlerOptions {
  /** The port to listen on; `0` picks a free one. @default 9090 */
  port?: number
  /** The interface to bind. @default undefined (all interfaces, as Node's `listen`) */
  host?: string
  /** The scrape path; anything else is a 404. @default '/metrics' */
  path?: string
}

/** A running metrics server. */
export interface MetricsServer {
  /** The port it listens on (the real one when `port: 0` was asked). */
  readonly port: number
  /** The address it is bound to. */
  readonly host: string
  /** The scrape URL. */
  readonly url: string
  /** Stops listening and closes every open connection; resolves once closed. */
  close(): Promise<void>
}

/**
 * Serves the registry on a port of its own (plain `node:http`), so metrics stay off the
 * public listener, as in the article's `:9090`. Resolves once listening.
 *
 * @param options see `ServeMetricsOptions`
 * @param options.registry the registry to expose (required)
 * @param options.port @default 9090
 * @param options.host @default all interfaces
 * @param options.path @default '/metrics'
 * @param options.openMetrics @default true
 * @returns a handle with the bound port and `close()`
 * @example
 * import { Registry } from 'prom-client'
 * import { serveMetrics } from '@sturdy/metrics'
 *
 * const server = await serveMetrics({ registry: new Registry(), port: 9090 })
 * process.on('SIGTERM', () => server.close())
 */
export function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  const path = options.path ?? '/metrics'
  const scrape = metricsHandler(options)
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/'
    const query = url.indexOf('?')
    const target = query === -1 ? url : url.slice(0, query)
    if (target !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not Found\n')
      return
    }
    scrape(req.headers.accept).then(
      ({ contentType, body }) => {
        res.writeHead(200, {
          'content-type': contentType,
          'cache-control': 'no-store',
          vary: 'accept',
        })
        res.end(req.method === 'HEAD' ? undefined : body)
      },
      () => {
        res
          .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
          .end('Internal Server Error\n')
      },
    )
  })
  let closing: Promise<void> | undefined
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 9090, options.host, () => {
      server.off('error', reject)
      const address = server.address() as AddressInfo
      const host = address.address
      const shown = host.includes(':') ? `[${host}]` : host
      resolve({
        port: address.port,
        host,
        url: `http://${shown}:${address.port}${path}`,
        close: () => {
          closing ??= new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()))
            // Keep-alive sockets would hold `close` open until they time out.
            server.closeAllConnections()
          })
          return closing
        },
      })
    })
  })
}
