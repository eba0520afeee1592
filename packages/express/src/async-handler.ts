import type { NextFunction, RequestHandler } from 'express'

/**
 * Routes an async handler's rejection to `next(error)`, for **Express 4**. Express 5 does
 * this itself; Express 4 ignores the promise a handler returns, so a rejection becomes an
 * unhandled rejection — and Node ends the process. With a deadline that is the common
 * case, not a corner: at the deadline the 504 goes out and the request signal aborts, so
 * the handler's `fetch(url, { signal: res.locals.signal })` rejects with the
 * `TimeoutError`, after the answer. Wrapped, that error reaches `sturdyErrors()`, which
 * records it and drops it (the client already has its 504).
 *
 * Harmless on Express 5 (the promise is handled once, here). Sync throws are left to
 * Express, which catches them in both versions.
 *
 * @param handler an Express handler, async or not
 * @returns a handler with the same parameters that never leaves a rejection unhandled
 * @example
 * import { asyncHandler, sturdy, sturdyErrors } from '@sturdy/express'
 *
 * app.use(sturdy(deadline({ budgetMs: 2000 })))
 * app.get('/orders/:id', asyncHandler(async (req, res) => {
 *   const upstream = await fetch(`http://inventory.internal/stock/${req.params.id}`, {
 *     signal: res.locals.signal,
 *   })
 *   res.json(await upstream.json())
 * }))
 * app.use(sturdyErrors())
 */
export function asyncHandler(
  handler: (...args: Parameters<RequestHandler>) => unknown,
): RequestHandler
/** With annotated parameters (`res: Response<unknown, SturdyLocals<typeof stack>>`), kept as written. */
export function asyncHandler<Req, Res>(
  handler: (req: Req, res: Res, next: NextFunction) => unknown,
): (req: Req, res: Res, next: NextFunction) => void
export function asyncHandler<Req, Res>(
  handler: (req: Req, res: Res, next: NextFunction) => unknown,
): (req: Req, res: Res, next: NextFunction) => void {
  return function sturdyAsyncHandler(req, res, next): void {
    const result = handler(req, res, next)
    if (isThenable(result)) result.then(undefined, next)
  }
}

/** True for a promise or any other thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
