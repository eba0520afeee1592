/**
 * @module
 * `@sturdy/node`: mounts Sturdy server middleware around a plain node:http
 * `(req, res)` listener, and provides `NodeExchange`, the Exchange over a node:http
 * request/response pair that the Express and Fastify adapters build on. Per-request
 * values are read with `valuesOf(req)`; route templates come from `setRoute()` or the
 * `route` option, else every request shares `UNMATCHED_ROUTE`.
 */

export { exchangeOf } from '@sturdy/core'
export { handOff, NOT_FINALIZED } from './hand-off.ts'
export type { Listener, SturdyNodeOptions, SturdyValues } from './listener.ts'
export { setRoute, sturdy, valuesOf } from './listener.ts'
export { NodeExchange } from './node-exchange.ts'
