import { isThenable } from './async-handler.ts'

/** A layer of an Express route's stack, as Express 4 (`handle_request`) or 5 has it. */
interface RouteLayer {
  handle?: unknown
  handle_request?: unknown
  handleRequest?: unknown
}

type Handler = (
  this: unknown,
  req: unknown,
  res: unknown,
  next: (error?: unknown) => void,
) => unknown

const forwarding = Symbol('sturdy.forwardsRejections')

/**
 * Makes the handlers of an Express **4** route hand a rejected promise to `next(error)`,
 * as Express 5 does. Express 4 calls a handler and drops what it returns, so an async
 * handler's rejection is an unhandled rejection, which ends the Node process — and with a
 * deadline that is the usual case: the 504 goes out, the request signal aborts, the
 * handler's `fetch` rejects. Called when Express dispatches a route (the adapter watches
 * `req.route`), before the route's handlers run; each handler is wrapped once.
 *
 * Express 5 layers (`handleRequest`) already forward rejections and are left alone, as
 * are error handlers (four parameters: Express tells them apart by arity). Middleware
 * mounted with `app.use()` is not a route handler: wrap an async one in `asyncHandler()`.
 *
 * @param route what Express assigned to `req.route`
 */
export function forwardRejections(route: unknown): void {
  const stack = (route as { stack?: unknown } | undefined)?.stack
  if (!Array.isArray(stack)) return
  for (const layer of stack as RouteLayer[]) {
    if (typeof layer.handle_request !== 'function' || typeof layer.handleRequest === 'function')
      continue
    const handle = layer.handle
    if (typeof handle !== 'function' || handle.length > 3 || forwarding in handle) continue
    layer.handle = forwardingRejections(handle as Handler)
  }
}

function forwardingRejections(handle: Handler): Handler {
  const wrapped: Handler = function sturdyForwardRejections(req, res, next) {
    const result = handle.call(this, req, res, next)
    if (isThenable(result)) result.then(undefined, next)
  }
  Object.defineProperty(wrapped, forwarding, { value: true })
  return wrapped
}
