/**
 * @module
 * `@sturdy/express`: mounts Sturdy server middleware in Express 5. `sturdy()` runs the
 * whole Sturdy onion as one Express middleware; `sturdyErrors()` lets Sturdy see the
 * errors handlers throw (sync or async) before your own error handlers answer them.
 * Per-request values land on `res.locals`. Express is imported as types only.
 */
import type { CombinedVariables, Middleware } from '@sturdy/core'
import { boundedRoutes, chain, exchangeOf } from '@sturdy/core'
import { handOff } from '@sturdy/node'
import type { ErrorRequestHandler, RequestHandler } from 'express'
import type { ExpressExchange } from './exchange.ts'
import { expressExchange } from './exchange.ts'

export { exchangeOf } from '@sturdy/core'
export { asyncHandler } from './async-handler.ts'
export type { ExpressExchange } from './exchange.ts'

/**
 * The `res.locals` a list of Sturdy middleware provides, for typing handlers:
 * `(req: Request, res: Response<unknown, SturdyLocals<typeof stack>>) => ...`.
 */
export type SturdyLocals<L extends readonly Middleware<object>[]> = CombinedVariables<L> &
  Record<string, unknown>

/**
 * Mounts Sturdy middleware as one Express middleware, outermost first.
 *
 * Mount it with `app.use()` before your routes. The innermost `next()` hands the
 * request to the rest of the Express stack and resolves once the response has finished
 * (or the client went away), so `ex.status` and `ex.route()` are final after it.
 * Several `sturdy()` mounts on one app share one Exchange per request.
 *
 * An error a Sturdy middleware throws before `next()` goes to your Express error
 * handlers; one thrown after (the response is already on its way) is answered with
 * problem+json if nothing was sent yet, or ends the connection.
 *
 * @param middleware Sturdy middleware, outermost first
 * @returns a named Express `RequestHandler`
 * @example
 * import express from 'express'
 * import { sturdy, sturdyErrors } from '@sturdy/express'
 * import { deadline } from '@sturdy/timeout'
 *
 * const app = express()
 * app.use(sturdy(deadline({ budgetMs: 2000 })))
 * app.get('/slow', async (req, res) => {
 *   const upstream = await fetch('http://127.0.0.1:9000/work', { signal: res.locals.signal })
 *   res.json(await upstream.json())
 * })
 * app.use(sturdyErrors())
 */
export function sturdy<const L extends readonly Middleware<object>[]>(
  ...middleware: L
): RequestHandler {
  const run = chain(middleware)
  const routes = boundedRoutes()
  return function sturdyMiddleware(req, res, next): void {
    handOff(run, expressExchange(req, res, routes), next, () => res.headersSent)
  }
}

/** Options of `sturdyErrors()`. */
export interface SturdyErrorsOptions {
  /**
   * Pass errors on to the next Express error handler even when a Sturdy middleware has
   * already answered the request (a 504 from a deadline, say). The handler's error is
   * then usually the abort that answer caused, and any error handler that tries to
   * write fails; Express's final handler even destroys the socket.
   * @default false
   */
  passOnAfterRespond?: boolean
}

/**
 * An Express error handler that records the error on the request's Exchange (so
 * metrics, traces and logs see it) and passes it on to your own error handlers.
 * Mount it after your routes and before your error handlers. Express gives errors to
 * error middleware only, so without it `ex.error` stays undefined (the status is
 * still right).
 *
 * @param options see `SturdyErrorsOptions`
 * @returns a named Express `ErrorRequestHandler`
 * @example
 * app.use(sturdy(requestLogger({ logger })))
 * app.get('/users/:id', getUser)
 * app.use(sturdyErrors())
 * app.use((err, req, res, next) => res.status(500).json({ title: 'oops' }))
 */
export function sturdyErrors(options: SturdyErrorsOptions = {}): ErrorRequestHandler {
  const passOn = options.passOnAfterRespond ?? false
  return function sturdyErrorRecorder(error, req, res, next): void {
    const ex = exchangeOf<ExpressExchange>(req)
    if (ex !== undefined) ex.recordError(error)
    // Sturdy already answered (and the handler failed because of it): the request
    // is over; handing the error on would only make someone write twice.
    if (ex !== undefined && !passOn && ex.responded && res.headersSent) return
    next(error)
  }
}
