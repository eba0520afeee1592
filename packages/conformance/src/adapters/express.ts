import { createServer } from 'node:http'
import { sturdy, sturdyErrors } from '@sturdy/express'
import type { Response } from 'express'
import express from 'express'
import type { AppSpec, FrameworkAdapter, HandlerResult, Served } from '../harness.ts'
import { callHandler, closeServer, listen } from '../harness.ts'

function reply(res: Response, r: HandlerResult): void {
  if (r.headers !== undefined) res.set(r.headers)
  res.status(r.status ?? 200)
  if (r.json !== undefined) res.json(r.json)
  else res.type('text/plain').send(r.text ?? '')
}

/** Express 5 through `@sturdy/express`, the usual way: `express.json()`, routers. */
export const expressAdapter: FrameworkAdapter = {
  name: 'express',
  errorStatus: 500,
  async serve(spec: AppSpec): Promise<Served> {
    const app = express()
    app.use(sturdy(...spec.middleware))
    app.use(express.json())
    const routers = new Map<string, express.Router>()
    for (const route of spec.routes) {
      let target: express.Router = app.router
      if (route.prefix !== undefined) {
        target = routers.get(route.prefix) ?? express.Router()
        routers.set(route.prefix, target)
      }
      const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete'
      target[method](route.path, (req, res) =>
        callHandler(
          route.handler,
          {
            params: req.params as Record<string, string>,
            value: (key) => res.locals[key],
            body: async () => req.body,
          },
          (r) => reply(res, r),
        ),
      )
    }
    for (const [prefix, router] of routers) app.use(prefix, router)
    app.use(sturdyErrors())
    const server = createServer(app)
    const url = await listen(server)
    return { url, close: () => closeServer(server) }
  },
}
