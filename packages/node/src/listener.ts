import type { IncomingMessage, ServerResponse } from 'node:http'
import type { CombinedVariables, Middleware, RouteLabel } from '@sturdy/core'
import { attachExchange, boundedRoutes, chain, exchangeOf } from '@sturdy/core'
import { NOT_FINALIZED } from './hand-off.ts'
import { NodeExchange } from './node-exchange.ts'
import { reportError } from './report-error.ts'

/** A node:http request listener, sync or async. */
export type Listener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>

/** Options of `sturdy()` for node:http. */
export interface SturdyNodeOptions {
  /** Sturdy middleware, outermost first. @default [] */
  middleware?: readonly Middleware<object>[]
  /**
   * Tells the route template of a request (`/users/:id`), read after the listener has
   * answered; return `undefined` for "no route". Plain node:http has no router, so
   * without it (and without `setRoute()` calls) every request reports
   * `UNMATCHED_ROUTE`: never the raw path, which would blow up metric cardinality.
   * @default undefined (use `setRoute()` or `UNMATCHED_ROUTE`)
   */
  route?: (req: IncomingMessage) => string | undefined
  /**
   * Answers an error the listener (or a Sturdy middleware) threw or rejected with.
   * The error is already recorded on the Exchange. By default the client gets
   * problem+json (a bare 500 for unknown errors, the status of a Sturdy error), or the
   * connection is cut when the response was already half sent; and a server error
   * (not a client error such as a `ValidationError`) reaches a log, never the client:
   * the request logger's access line (`@sturdy/logger`) carries it when one is mounted,
   * else it goes to `console.error`. An error that follows Sturdy's own answer (the
   * aborted work after a 504) is recorded only.
   * @default problem+json answer, server errors logged
   */
  onError?: (error: unknown, req: IncomingMessage, res: ServerResponse) => void
}

const ROUTE: unique symbol = Symbol('@sturdy/node route') as never

type Tagged = IncomingMessage & { [ROUTE]?: string }

/**
 * Wraps a node:http request listener in Sturdy middleware. The innermost `next()` runs
 * the listener and resolves once the response has finished (or the client went away),
 * so middleware read the final status after `await next()`.
 *
 * @param listener your `(req, res)` listener; it may be async
 * @param options see `SturdyNodeOptions`
 * @returns a named request listener for `http.createServer()`
 * @example
 * import { createServer } from 'node:http'
 * import { setRoute, sturdy, valuesOf } from '@sturdy/node'
 * import { deadline } from '@sturdy/timeout'
 *
 * const server = createServer(
 *   sturdy(
 *     async (req, res) => {
 *       setRoute(req, '/work')
 *       const { signal } = valuesOf<{ signal: AbortSignal }>(req)
 *       const upstream = await fetch('http://127.0.0.1:9000/work', { signal })
 *       res.end(await upstream.text())
 *     },
 *     { middleware: [deadline({ budgetMs: 2000 })] },
 *   ),
 * )
 * server.listen(3000)
 */
export function sturdy(
  listener: Listener,
  options: SturdyNodeOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const run = chain(options.middleware ?? [])
  const routeOf = options.route
  const onError = options.onError
  const routes = boundedRoutes()
  return function sturdyListener(req, res): void {
    const ex = attachExchange(req, new NodeListenerExchange(req, res, routes, routeOf))
    const failed = (error: unknown): void => {
      ex.recordError(error)
      if (onError !== undefined) {
        onError(error, req, res)
        return
      }
      // Sturdy already answered (a deadline's 504): this is the work it aborted.
      const consequence = ex.responded
      ex.fail(error)
      if (!consequence) reportError(ex, error)
    }
    let continued = false
    const last = (): Promise<void> => {
      continued = true
      try {
        const result = listener(req, res)
        if (result !== undefined && typeof result.then === 'function') {
          result.then(undefined, failed)
        }
      } catch (error) {
        failed(error)
      }
      return ex.settled()
    }
    run(ex, last).then(() => {
      if (!continued && !ex.responded) failed(new Error(NOT_FINALIZED))
    }, failed)
  }
}

/**
 * The per-request values Sturdy middleware shared (`ex.set`), for a request inside a
 * `sturdy()` listener: `valuesOf(req).signal`, `valuesOf(req).log`. Type it with what
 * your middleware provide — `SturdyValues<typeof stack>`, or `{ signal: AbortSignal }`
 * — and the values are typed as present, as `c.var` is in Hono (outside a `sturdy()`
 * listener the record is empty).
 *
 * @param req the request the listener got
 * @returns the values record
 * @example
 * const stack = [deadline({ budgetMs: 2000 })] as const
 * // in the listener:
 * const { signal } = valuesOf<SturdyValues<typeof stack>>(req) // AbortSignal
 */
export function valuesOf<V extends object = Record<string, unknown>>(req: IncomingMessage): V {
  const ex = exchangeOf<NodeExchange>(req)
  return (ex === undefined ? {} : ex.values()) as V
}

/**
 * The values a list of Sturdy middleware provides, for `valuesOf<SturdyValues<typeof
 * stack>>(req)`: each typed as present.
 */
export type SturdyValues<L extends readonly Middleware<object>[]> = CombinedVariables<L> &
  Record<string, unknown>

/**
 * Tells Sturdy the route template of this request (`/users/:id`), for a hand-written
 * router. It wins over the `route` option.
 *
 * @param req the request the listener got
 * @param template the matched route template, never the raw path
 * @example
 * if (match) setRoute(req, '/users/:id')
 */
export function setRoute(req: IncomingMessage, template: string): void {
  ;(req as Tagged)[ROUTE] = template
}

class NodeListenerExchange extends NodeExchange {
  readonly #routeOf: ((req: IncomingMessage) => string | undefined) | undefined

  constructor(
    req: IncomingMessage,
    res: ServerResponse,
    routes: RouteLabel,
    routeOf: ((req: IncomingMessage) => string | undefined) | undefined,
  ) {
    super(req, res, routes)
    this.#routeOf = routeOf
  }

  protected override findRoute(): string | undefined {
    const req = this.req as Tagged
    return req[ROUTE] ?? this.#routeOf?.(req)
  }
}
