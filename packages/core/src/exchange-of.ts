import type { Exchange } from './exchange.ts'

/**
 * Where an adapter keeps a request's Exchange: a property on the framework's own
 * per-request object (Hono's context, node's `IncomingMessage`, Fastify's request).
 * `Symbol.for`, so two copies of `@sturdy/core` in one app still find each other's.
 */
const EXCHANGE: unique symbol = Symbol.for('@sturdy/core exchange') as never

type Carrier = { [EXCHANGE]?: Exchange }

/**
 * The Exchange Sturdy built for a request, looked up on the framework's per-request
 * object — `c` in Hono, `req` with Express and node:http, `request` in Fastify — or
 * undefined when no Sturdy mount ran for it. For framework-only glue that calls Sturdy
 * helpers; every adapter finds its exchange (and shares it between several mounts)
 * through it.
 *
 * @param carrier the framework's request object
 * @returns the request's Exchange, typed as `E` (an adapter's own class) when asked
 * @example
 * import { exchangeOf } from '@sturdy/hono'
 *
 * app.get('/slow', (c) => c.json({ msLeft: remaining(exchangeOf(c)?.deadline) }))
 */
export function exchangeOf<E extends Exchange = Exchange>(carrier: object): E | undefined {
  return (carrier as Carrier)[EXCHANGE] as E | undefined
}

/**
 * Keeps `ex` on `carrier` for `exchangeOf` to find: what an adapter does once per
 * request, when its first mount builds the exchange.
 *
 * @param carrier the framework's request object
 * @param ex the request's Exchange
 * @returns `ex`
 * @example
 * const ex = exchangeOf<MyExchange>(req) ?? attachExchange(req, new MyExchange(req, res))
 */
export function attachExchange<E extends Exchange>(carrier: object, ex: E): E {
  ;(carrier as Carrier)[EXCHANGE] = ex
  return ex
}
