import { createServer } from 'node:http'
import { sturdy, sturdyErrors } from '@sturdy/express'
import type { Express, Request, Response, Router } from 'express'
import express from 'express'
import express4 from 'express4'
import type { AppSpec, FrameworkAdapter, HandlerResult, Served } from '../harness.ts'
import { callHandler, closeServer, listen } from '../harness.ts'

function reply(res: Response, r: HandlerResult): void {
  if (r.headers !== undefined) res.set(r.headers)
  res.status(r.status ?? 200)
  if (r.json !== undefined) res.json(r.json)
  else res.type('text/plain').send(r.text ?? '')
}

/**
 * Express through `@sturdy/express`, the usual way: `express.json()`, routers, the
 * error middleware after the routes. Route handlers are async and unwrapped on both
 * versions: Express 4 does not forward their rejections itself, `sturdy()` makes its
 * routes do it (`asyncHandler()` is only needed for async `app.use()` middleware).
 */
function expressFlavour(name: string, lib: typeof express): FrameworkAdapter {
  return {
    name,
    errorStatus: 500,
    async serve(spec: AppSpec): Promise<Served> {
      const app: Express = lib()
      app.use(sturdy(...spec.middleware))
      app.use(lib.json())
      const routers = new Map<string, Router>()
      for (const route of spec.routes) {
        // An app routes like a router; typed as one so both take the same handler.
        let target = app as unknown as Router
        if (route.prefix !== undefined) {
          const router = routers.get(route.prefix) ?? lib.Router()
          routers.set(route.prefix, router)
          target = router
        }
        const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'
        const handler = (req: Request, res: Response) =>
          callHandler(
            route.handler,
            {
              params: req.params as Record<string, string>,
              value: (key) => res.locals[key],
              // Express 4's body-parser leaves `{}` on requests without a body.
              body: async () => (req.headers['content-type'] === undefined ? undefined : req.body),
            },
            (r) => reply(res, r),
            () => undefined,
          )
        target[method](route.path, handler)
      }
      for (const [prefix, router] of routers) app.use(prefix, router)
      app.use(sturdyErrors())
      const server = createServer(app)
      const url = await listen(server)
      return { url, server, close: () => closeServer(server) }
    },
  }
}

/** Express 5. */
export const expressAdapter: FrameworkAdapter = expressFlavour('express', express)

/** Express 4, to back the `^4.17.0` half of the peer range. */
export const express4Adapter: FrameworkAdapter = expressFlavour('express 4', express4)
