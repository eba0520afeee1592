/** The Hono side shared by the Hono contenders: the route, and serving on @hono/node-server. */
import { serve } from '@hono/node-server'
import type { Hono } from 'hono'
import { announce, port, user } from './entry.ts'

/** Adds the benchmark route, `GET /users/:id` returning small JSON. */
export function addRoute<A extends object>(app: A): A {
  // Any Hono, whatever Env its middleware added: the route itself needs none of it.
  ;(app as unknown as Hono).get('/users/:id', (c) => c.json(user(c.req.param('id'))))
  return app
}

/** Serves a Hono app on 127.0.0.1 and announces it to the orchestrator. */
export function serveHono(
  app: { fetch: (req: Request, ...rest: never[]) => Response | Promise<Response> },
  info: { missing: readonly string[]; stack: readonly string[] },
  extra?: () => Record<string, number>,
): void {
  const server = serve({ fetch: app.fetch as never, port: port(), hostname: '127.0.0.1' }, () =>
    announce(server, info, extra),
  )
}
