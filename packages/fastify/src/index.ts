/**
 * @module
 * `@sturdy/fastify`: mounts Sturdy server middleware in Fastify 5 as a plugin. The
 * Sturdy onion starts in an `onRequest` hook and its innermost `next()` resolves once
 * the response has finished; per-request values are on `request.sturdy`. The plugin
 * respects encapsulation: it applies to the context it is registered in and that
 * context's children, never to its parent or siblings. Fastify is imported as types
 * only.
 */
import type { Middleware, TraceContext } from '@sturdy/core'
import { boundedRoutes, chain, exchangeOf } from '@sturdy/core'
import { handOff } from '@sturdy/node'
import type { FastifyInstance, FastifyPluginCallback, HookHandlerDoneFunction } from 'fastify'
import type { FastifyExchange } from './exchange.ts'
import { fastifyExchange } from './exchange.ts'

export { exchangeOf } from '@sturdy/core'
export type { FastifyExchange } from './exchange.ts'

/**
 * The per-request values Sturdy middleware share, as `request.sturdy` sees them. The
 * conventional keys are typed; augment this interface to type others, such as the
 * logger type you use:
 * `declare module '@sturdy/fastify' { interface SturdyRequestValues { log?: Logger } }`.
 */
export interface SturdyRequestValues {
  /** The request signal (`@sturdy/timeout`'s deadline, or a client disconnect). */
  signal?: AbortSignal
  /** The request's absolute deadline on the clock's scale (`@sturdy/timeout`). */
  deadline?: number
  /** The request id (`@sturdy/logger`). */
  requestId?: string
  /** The request's span identifiers (`@sturdy/tracing`). */
  trace?: TraceContext
  [key: string]: unknown
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Per-request values shared by Sturdy middleware (`ex.set(key, value)`). */
    sturdy: SturdyRequestValues
  }
}

/** Options of the `sturdy` plugin. */
export interface SturdyFastifyOptions {
  /** Sturdy middleware, outermost first. @default [] */
  middleware?: readonly Middleware<object>[]
}

function sturdyPlugin(
  fastify: FastifyInstance,
  options: SturdyFastifyOptions,
  done: (error?: Error) => void,
): void {
  const run = chain(options.middleware ?? [])
  const routes = boundedRoutes()
  if (!fastify.hasRequestDecorator('sturdy')) fastify.decorateRequest('sturdy', null as never)

  fastify.addHook(
    'onRequest',
    function sturdyOnRequest(request, reply, next: HookHandlerDoneFunction): void {
      // The onion's innermost next() runs the rest of Fastify's lifecycle inside the async
      // context the middleware set up (an active span, say). Fastify binds its body
      // parsing to the request's context itself, so handlers still see it after a body.
      handOff(
        run,
        fastifyExchange(request, reply, routes),
        (error) => next(error as Error | undefined),
        () => reply.sent,
      )
    },
  )

  fastify.addHook(
    'onError',
    function sturdyRecordError(request, _reply, error, next: HookHandlerDoneFunction): void {
      exchangeOf<FastifyExchange>(request)?.recordError(error)
      next()
    },
  )

  done()
}

/**
 * The Fastify plugin that runs Sturdy middleware, outermost first.
 *
 * Encapsulation: the plugin carries Fastify's `skip-override` marker (what
 * `fastify-plugin` sets), so its hooks and the `request.sturdy` decoration belong to
 * the context you call `register` on, and reach that context's routes and child
 * plugins: register it on the root instance for the whole app, or inside a plugin to
 * cover only that plugin's routes. Registering it in several nested contexts is fine:
 * they share one Exchange per request, the outer context's middleware running first.
 *
 * @param options see `SturdyFastifyOptions`
 * @returns nothing; `await app.register(sturdy, { middleware })`
 * @example
 * import Fastify from 'fastify'
 * import { sturdy } from '@sturdy/fastify'
 * import { deadline } from '@sturdy/timeout'
 *
 * const app = Fastify()
 * await app.register(sturdy, { middleware: [deadline({ budgetMs: 2000 })] })
 * app.get('/slow', async (request) => {
 *   const upstream = await fetch('http://127.0.0.1:9000/work', { signal: request.sturdy.signal })
 *   return upstream.json()
 * })
 */
export const sturdy: FastifyPluginCallback<SturdyFastifyOptions> = Object.assign(sturdyPlugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@sturdy/fastify',
  [Symbol.for('plugin-meta')]: { name: '@sturdy/fastify', fastify: '5.x' },
})
