import type { Exchange, Next } from '@sturdy/core'
import type { NodeExchange } from './node-exchange.ts'

/** The error a request gets when a middleware neither continued nor answered. */
export const NOT_FINALIZED = 'Sturdy middleware neither called next() nor responded'

/**
 * Runs a Sturdy onion inside a framework whose pipeline continues through a callback
 * (`next` in Express, the `onRequest` hook's `done` in Fastify): the innermost `next()`
 * hands the request back to the framework and resolves once the response has settled.
 * A middleware that neither continues nor answers, or that throws before the framework
 * took over, is passed to `proceed(error)` so the framework's own error handling
 * answers; a throw after that fails the exchange (problem+json, or a cut connection).
 *
 * @param run the composed middleware (core `chain`)
 * @param ex the request's exchange
 * @param proceed the framework's continuation: called once, with an error or without
 * @param sent whether the framework already sent the response head
 * @example
 * handOff(run, ex, (error) => next(error), () => res.headersSent)
 */
export function handOff(
  run: (ex: Exchange, last: Next) => Promise<void>,
  ex: NodeExchange,
  proceed: (error?: unknown) => void,
  sent: () => boolean,
): void {
  let continued = false
  const last = (): Promise<void> => {
    continued = true
    proceed()
    return ex.settled()
  }
  run(ex, last).then(
    () => {
      if (!continued && !ex.responded) proceed(new Error(NOT_FINALIZED))
    },
    (error: unknown) => {
      if (!continued && !sent()) proceed(error)
      else ex.fail(error)
    },
  )
}
