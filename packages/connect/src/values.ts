/**
 * Per-call values, carried in Connect's `contextValues`: on a server the call's own
 * values (signal, deadline, trace, request id, logger) shared with the handler; on a
 * client the values of the request that makes the call, so its deadline, signal, trace
 * and request id reach the next hop.
 */
import type { CallOptions, ContextValues, HandlerContext } from '@connectrpc/connect'
import { createContextKey, createContextValues } from '@connectrpc/connect'
import type { RequestValues } from '@sturdy/core'

/** The per-call record, one context key for all of Sturdy's values. */
const VALUES_KEY = createContextKey<Record<string, unknown> | undefined>(undefined, {
  description: '@sturdy/connect values',
})

/** The caller's values on a client call (`callContext()`). */
const CALLER_KEY = createContextKey<RequestValues | undefined>(undefined, {
  description: '@sturdy/connect caller values',
})

/**
 * The per-request values of a call being served — `signal` and `deadline` from
 * `serverDeadline()`, `trace` from `rpcSpans()`, `log` and `requestId` from
 * `rpcLogger()` — in the shape every Sturdy client takes as `context`.
 *
 * @param ctx the handler's context (or an interceptor's request: anything with `values` or `contextValues`)
 * @returns a record of the call's values (empty when no Sturdy interceptor ran)
 * @example
 * const routes = (router: ConnectRouter) =>
 *   router.service(UserService, {
 *     async getUser(req, ctx) {
 *       const user = await inventory.json(`/users/${req.id}`, { context: valuesOf(ctx) })
 *       return { user }
 *     },
 *   })
 */
export function valuesOf(
  ctx: Pick<HandlerContext, 'values'> | { readonly contextValues: ContextValues },
): Record<string, unknown> {
  const values = 'values' in ctx ? ctx.values : ctx.contextValues
  let record = values.get(VALUES_KEY)
  if (record === undefined) {
    record = {}
    values.set(VALUES_KEY, record)
  }
  return record
}

/**
 * Call options that carry the values of the request making a call — a Hono context
 * `c`, `c.var`, `res.locals`, a gRPC handler's `valuesOf(ctx)` — to the Sturdy client
 * interceptors: `clientDeadline()` takes its deadline and signal, `rpcSpans()` its
 * trace, `rpcLogger()` its logger.
 *
 * @param values the inbound request's values
 * @param options more call options (`headers`, `timeoutMs`, ...), kept
 * @returns call options with `contextValues` set
 * @example
 * app.get('/users/:id', async (c) => c.json(await users.getUser({ id: c.req.param('id') }, callContext(c))))
 */
export function callContext(
  values: RequestValues | undefined,
  options: CallOptions = {},
): CallOptions {
  const contextValues = options.contextValues ?? createContextValues()
  contextValues.set(CALLER_KEY, values)
  return { ...options, contextValues }
}

/**
 * The values of the request that made a client call (from `callContext()`), or
 * undefined when it carries none.
 */
export function callerValues(contextValues: ContextValues): RequestValues | undefined {
  return contextValues.get(CALLER_KEY)
}
