import { PROBLEM_CONTENT_TYPE, renderProblem, statusTitle } from '@sturdy/core'
import { problemErrorHandler } from '@sturdy/hono'
import type { Context } from 'hono'
import { Hono } from 'hono'
import { z } from 'zod'
import { readJson } from './body.ts'
import type { UserStore } from './store.ts'

/** What the example app is built from. */
export interface AppOptions {
  store: UserStore
}

const NewUser = z.object({
  name: z.string().trim().min(1).max(100),
  email: z.email(),
})

/**
 * The example service: the article's user routes plus a health check. Every error —
 * bad JSON, a bad body, an unknown id or route, a crash — answers RFC 9457
 * problem+json; a crash never shows its stack.
 */
export function createApp(options: AppOptions): Hono {
  const { store } = options
  const app = new Hono()

  app.get('/healthz', (c) => c.json({ status: 'ok' }))

  app.get('/users/:id', async (c) => {
    const user = await store.get(c.req.param('id'), c.req.raw.signal)
    if (user === undefined) return problem(c, 404, `No user with id ${c.req.param('id')}`)
    return c.json(user)
  })

  app.post('/users', async (c) => {
    const input = await readJson(c, NewUser, { limit: 16_384 })
    const user = await store.create(input, c.req.raw.signal)
    c.header('location', `/users/${user.id}`)
    return c.json(user, 201)
  })

  app.notFound((c) => problem(c, 404, `No route for ${c.req.method} ${c.req.path}`))
  app.onError(problemErrorHandler())
  return app
}

function problem(c: Context, status: 404, detail: string): Response {
  return c.body(renderProblem({ title: statusTitle(status), status, detail }), status, {
    'content-type': PROBLEM_CONTENT_TYPE,
  })
}
