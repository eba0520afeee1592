import type { IncomingMessage, ServerResponse } from 'node:http'
import type { RouteLabel } from '@sturdy/core'
import { attachExchange, exchangeOf } from '@sturdy/core'
import { NodeExchange } from '@sturdy/node'
import { forwardRejections } from './forward-rejections.ts'

/** The parts of Express's request and response the adapter reads. */
interface ExpressRequest extends IncomingMessage {
  baseUrl?: string
  originalUrl?: string
  route?: { path?: unknown }
}
interface ExpressResponse extends ServerResponse {
  locals?: Record<string, unknown>
}

/**
 * The Exchange of an Express request: the one an earlier `sturdy()` mount built, else a
 * new one kept on `req` (so several mounts share it, and `exchangeOf(req)` finds it).
 *
 * @param req the Express request
 * @param res the Express response
 * @param routes the mount's route bound (core `boundedRoutes()`)
 * @returns the request's Exchange
 */
export function expressExchange(
  req: IncomingMessage,
  res: ServerResponse,
  routes: RouteLabel,
): ExpressExchange {
  return (
    exchangeOf<ExpressExchange>(req) ?? attachExchange(req, new ExpressExchange(req, res, routes))
  )
}

/** The `req.route` accessor every request shares (see `#watchRoute`). */
const ROUTE_ACCESSOR: PropertyDescriptor = { configurable: true, enumerable: true }

/**
 * Maps an Express request onto the Exchange: values live on `res.locals`, the route
 * template is `req.baseUrl + req.route.path` as it was when the route was dispatched.
 */
export class ExpressExchange extends NodeExchange {
  #route: unknown
  #base = ''

  constructor(req: IncomingMessage, res: ServerResponse, routes: RouteLabel) {
    super(req, res, routes)
    this.#watchRoute(req as ExpressRequest)
  }

  protected override findRoute(): string | undefined {
    const path = (this.#route as { path?: unknown } | undefined)?.path
    if (path === undefined) return undefined
    const template = typeof path === 'string' ? path : String(path)
    if (this.#base === '') return template
    // `router.get('/')` under `app.use('/api', router)` is the route `/api`, as in Hono.
    return template === '/' ? this.#base : this.#base + template
  }

  override get<T = unknown>(key: string): T | undefined {
    return this.#locals()[key] as T | undefined
  }
  override set(key: string, value: unknown): void {
    this.#locals()[key] = value
  }
  override values(): Record<string, unknown> {
    return this.#locals()
  }

  #locals(): Record<string, unknown> {
    const res = this.res as ExpressResponse
    if (res.locals === undefined) res.locals = Object.create(null) as Record<string, unknown>
    return res.locals
  }

  /**
   * Express assigns `req.route` when it dispatches a route, while `req.baseUrl` is the
   * mount path of that route's router. Both change again when an error leaves a
   * sub-router (the base is restored to the parent's), so the template is taken at
   * assignment time: `req.route` becomes an accessor that notes the base alongside.
   * The same moment lets Express 4 routes forward async rejections (`forwardRejections`).
   */
  #watchRoute(req: ExpressRequest): void {
    this.#route = req.route
    this.#base = req.baseUrl ?? ''
    // One getter and one setter for every request (they find the exchange through the
    // request), not closures per request: V8 then reuses one hidden-class transition for
    // the accessor instead of building new maps for every request object.
    Object.defineProperty(req, 'route', ROUTE_ACCESSOR)
  }

  static {
    ROUTE_ACCESSOR.get = function getRoute(this: ExpressRequest): unknown {
      const ex = exchangeOf<ExpressExchange>(this)
      return ex === undefined ? undefined : ex.#route
    }
    ROUTE_ACCESSOR.set = function setRoute(this: ExpressRequest, route: unknown): void {
      const ex = exchangeOf<ExpressExchange>(this)
      if (ex !== undefined) {
        ex.#route = route
        ex.#base = this.baseUrl ?? ''
      }
      forwardRejections(route)
    }
  }
}
