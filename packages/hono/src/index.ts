/**
 * @module
 * `@sturdy/hono`: mounts Sturdy server middleware in Hono. One Hono middleware runs the
 * whole Sturdy onion; per-request values land on `c.var`, typed through Hono's `Env`
 * generic (no global `ContextVariableMap` augmentation).
 */
import type { CombinedVariables, Middleware } from '@sturdy/core'
import { boundedRoutes, chain } from '@sturdy/core'
import type { Context, MiddlewareHandler } from 'hono'
import { honoExchange } from './exchange.ts'

export { exchangeOf } from '@sturdy/core'
export type { ProblemErrorHandlerOptions } from './error-handler.ts'
export { problemErrorHandler } from './error-handler.ts'
export { exchangeFor } from './exchange.ts'

/** The Hono `Env` a list of Sturdy middleware provides: `{ Variables: ... }`. */
export type SturdyEnv<L extends readonly Middleware<object>[]> = {
  Variables: CombinedVariables<L>
}

/**
 * Mounts Sturdy middleware as one Hono middleware, outermost first.
 *
 * Mount it with `app.use()` before your routes. Mounting several `sturdy()` handlers on
 * one app is fine: they share one Exchange per request.
 *
 * @param middleware Sturdy middleware, outermost first
 * @returns a named Hono `MiddlewareHandler` whose `Env` types the values on `c.var`
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { deadline } from '@sturdy/timeout'
 *
 * const app = new Hono().use(sturdy(deadline({ budgetMs: 2000 })))
 * app.get('/slow', async (c) => {
 *   const res = await fetch('http://127.0.0.1:9000/work', { signal: c.var.signal })
 *   return c.json(await res.json())
 * })
 */
export function sturdy<const L extends readonly Middleware<object>[]>(
  ...middleware: L
): MiddlewareHandler<SturdyEnv<L>> {
  const run = chain(middleware)
  const routes = boundedRoutes()
  // Not `async`: the chain's own promise is returned as it is. Each async function and
  // each `await` is one more promise, and on Node 20, with OpenTelemetry's
  // AsyncLocalStorage on, every promise runs a hook (bench/README.md). The chain turns a
  // middleware's synchronous throw into a rejection, so the mount never throws either.
  return function sturdyMiddleware(c, next): Promise<void> {
    return run(honoExchange(c as Context, sturdyMiddleware, routes), next)
  }
}
