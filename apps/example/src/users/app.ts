import { ValidationError } from '@sturdy/core'
import type { Hono } from 'hono'
import { z } from 'zod'
import { readJson } from '../platform/body.ts'
import type { AppEnv, ServiceContext } from '../platform/service.ts'
import { problem, serviceApp } from '../platform/service.ts'
import type { UserRepository } from './repository.ts'
import { EmailTakenError } from './repository.ts'

/** What a new user needs: the gateway validates it, and so does the users service. */
export const NewUser = z.object({
  name: z.string().trim().min(1).max(100),
  email: z.email().max(254),
})

/**
 * The users service over HTTP/JSON — a stand-in for the Connect/gRPC `UserService`
 * until `@sturdy/connect` and its proto land: the same two calls, the same repository.
 */
export function usersApp(ctx: ServiceContext, repo: UserRepository): Hono<AppEnv> {
  const app = serviceApp(ctx)

  app.get('/users/:id', async (c) => {
    const id = c.req.param('id')
    const user = await repo.get(id, c.var.signal)
    return user === undefined ? problem(c, 404, `No user with id ${id}`) : c.json(user)
  })

  app.post('/users', async (c) => {
    const input = await readJson(c, NewUser, { limit: 16_384 })
    try {
      const user = await repo.create(input, c.var.signal)
      c.var.log.info({ user_id: user.id }, 'user created')
      return c.json(user, 201)
    } catch (error) {
      if (error instanceof EmailTakenError) {
        return problem(c, 409, error.message, { code: 'EMAIL_TAKEN' })
      }
      throw error
    }
  })
  return app
}

/** Throws the validation error the gateway answers 400 with, for an id that is not one. */
export function checkUserId(id: string): void {
  if (!/^[1-9][0-9]{0,17}$/.test(id)) {
    throw new ValidationError('Invalid user id', [
      { path: 'id', message: 'expected a positive whole number' },
    ])
  }
}
