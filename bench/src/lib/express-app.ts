/** The Express side shared by the Express contenders. */
import type { Express } from 'express'
import { announce, port, user } from './entry.ts'

/** Adds `GET /users/:id` returning small JSON. */
export function addExpressRoute(app: Express): Express {
  app.get('/users/:id', (req, res) => {
    res.json(user(req.params.id as string))
  })
  return app
}

/** Listens on 127.0.0.1 and announces the server. */
export function serveExpress(
  app: Express,
  info: { missing: readonly string[]; stack: readonly string[] },
  extra?: () => Record<string, number>,
): void {
  const server = app.listen(port(), '127.0.0.1', () => announce(server, info, extra))
}
