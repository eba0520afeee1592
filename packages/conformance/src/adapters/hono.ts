import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { sturdy } from '@sturdy/hono'
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { AppSpec, FrameworkAdapter, HandlerResult, Served } from '../harness.ts'
import { callHandler, closeServer, listen } from '../harness.ts'

function reply(c: Context, r: HandlerResult): Response {
  if (r.headers !== undefined) for (const [k, v] of Object.entries(r.headers)) c.header(k, v)
  c.status((r.status ?? 200) as never)
  return r.json !== undefined ? c.json(r.json as never) : c.text(r.text ?? '')
}

/** Hono through `@sturdy/hono` on `@hono/node-server`. */
export const hono: FrameworkAdapter = {
  name: 'hono',
  errorStatus: 500,
  async serve(spec: AppSpec): Promise<Served> {
    const app = new Hono()
    // Hono's default error handler, minus its console.error.
    app.onError((_error, c) => c.text('Internal Server Error', 500))
    app.use(sturdy(...spec.middleware))
    const subs = new Map<string, Hono>()
    for (const route of spec.routes) {
      let target = app
      if (route.prefix !== undefined) {
        target = subs.get(route.prefix) ?? new Hono()
        subs.set(route.prefix, target)
      }
      target.on(route.method, route.path, (c: Context): Response | Promise<Response> =>
        callHandler(
          route.handler,
          {
            params: c.req.param() as Record<string, string>,
            value: (key) => c.get(key as never) as unknown,
            body: async () => {
              const text = await c.req.text()
              return text === '' ? undefined : JSON.parse(text)
            },
          },
          // No callback style in Hono: a late answer is the handler's own promise.
          (r): Response | Promise<Response> =>
            r.later === undefined ? reply(c, r) : r.later.then((late) => reply(c, late)),
        ),
      )
    }
    for (const [prefix, sub] of subs) app.route(prefix, sub)
    // No global Request/Response override: the other frameworks share this process.
    const server = createAdaptorServer({ fetch: app.fetch, overrideGlobalObjects: false }) as Server
    const url = await listen(server)
    return { url, server, close: () => closeServer(server) }
  },
}
