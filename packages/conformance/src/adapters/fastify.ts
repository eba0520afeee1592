import { sturdy } from '@sturdy/fastify'
import type { FastifyInstance, FastifyReply } from 'fastify'
import Fastify from 'fastify'
import type { AppSpec, FrameworkAdapter, HandlerResult, RouteSpec, Served } from '../harness.ts'
import { callHandler } from '../harness.ts'

function reply(rep: FastifyReply, r: HandlerResult): FastifyReply {
  if (r.headers !== undefined) rep.headers(r.headers)
  rep.code(r.status ?? 200)
  if (r.json !== undefined) return rep.send(r.json)
  return rep.type('text/plain').send(r.text ?? '')
}

function addRoute(app: FastifyInstance, route: RouteSpec): void {
  app.route({
    method: route.method,
    url: route.path,
    handler: (request, rep) =>
      callHandler(
        route.handler,
        {
          params: request.params as Record<string, string>,
          value: (key) => request.sturdy[key],
          body: async () => request.body,
        },
        (r) => reply(rep, r),
        () => rep,
      ),
  })
}

/** Fastify 5 through `@sturdy/fastify`, registered on the root; prefixes as child plugins. */
export const fastifyAdapter: FrameworkAdapter = {
  name: 'fastify',
  errorStatus: 500,
  async serve(spec: AppSpec): Promise<Served> {
    const app = Fastify()
    await app.register(sturdy, { middleware: spec.middleware })
    const prefixed = new Map<string, RouteSpec[]>()
    for (const route of spec.routes) {
      if (route.prefix === undefined) addRoute(app, route)
      else prefixed.set(route.prefix, [...(prefixed.get(route.prefix) ?? []), route])
    }
    for (const [prefix, routes] of prefixed) {
      app.register(
        async (child) => {
          for (const route of routes) addRoute(child, route)
        },
        { prefix },
      )
    }
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return {
      url,
      server: app.server,
      close: async () => {
        app.server.closeAllConnections()
        await app.close()
      },
    }
  },
}
