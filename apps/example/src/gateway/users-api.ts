import { isHttpStatusError } from '@sturdy/client'
import type { RequestValues } from '@sturdy/core'
import { z } from 'zod'
import type { User } from '../users/repository.ts'
import type { Downstream } from './downstream.ts'

/** The users service as the gateway sees it. */
export interface UsersApi {
  /** The user, or undefined when there is none. */
  get(id: string, context: RequestValues): Promise<User | undefined>
  /** The new user; throws `EmailTakenError`-like `UserConflict` when the email is taken. */
  create(input: { name: string; email: string }, context: RequestValues): Promise<User>
}

/** The users service said the email is taken. */
export class UserConflict extends Error {
  override readonly name = 'UserConflict'
}

const UserSchema = z.object({ id: z.string(), name: z.string(), email: z.string() })

/**
 * The users service over HTTP/JSON through the gateway's client (retries, breaker,
 * deadline and trace propagation). Replaced by the Connect/gRPC client once
 * `@sturdy/connect` lands.
 */
export function httpUsersApi(down: Downstream): UsersApi {
  const base = down.urls.users
  return {
    async get(id, context) {
      try {
        return await down.client.json(`${base}/users/${encodeURIComponent(id)}`, {
          context,
          schema: UserSchema,
        })
      } catch (error) {
        if (isHttpStatusError(error) && error.upstreamStatus === 404) return undefined
        throw error
      }
    },
    async create(input, context) {
      try {
        return await down.client.json(`${base}/users`, {
          method: 'POST',
          json: input,
          context,
          schema: UserSchema,
        })
      } catch (error) {
        if (isHttpStatusError(error) && error.upstreamStatus === 409) {
          throw new UserConflict(`A user with email ${input.email} already exists`)
        }
        throw error
      }
    },
  }
}
