/** The Fastify side shared by the Fastify contenders. */
import type { FastifyInstance } from 'fastify'
import { announce, port, user } from './entry.ts'

/** Adds `GET /users/:id` returning small JSON. */
export function addFastifyRoute(app: FastifyInstance): FastifyInstance {
  app.get<{ Params: { id: string } }>('/users/:id', async (req) => user(req.params.id))
  return app
}

/** Listens on 127.0.0.1 and announces the server. */
export async function serveFastify(
  app: FastifyInstance,
  info: { missing: readonly string[]; stack: readonly string[] },
  extra?: () => Record<string, number>,
): Promise<void> {
  await app.listen({ port: port(), host: '127.0.0.1' })
  announce(app.server, info, extra)
}
