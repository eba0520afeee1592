import type { ServiceImpl } from '@connectrpc/connect'
import { Code, ConnectError } from '@connectrpc/connect'
import type { FieldIssue } from '@sturdy/core'
import { ValidationError } from '@sturdy/core'
import type { User, UserService } from './gen/sturdy/example/user/v1/user_service_pb.ts'

/** Where the reference implementation keeps users. */
export interface UserStore {
  get(id: string, signal: AbortSignal): Promise<User | undefined>
  create(user: { name: string; email: string }, signal: AbortSignal): Promise<User>
}

/**
 * A reference `UserService` implementation to wire into a Connect server: it validates
 * input (a `ValidationError`, which `serverErrors()` sends as INVALID_ARGUMENT with field
 * details), answers NOT_FOUND for a missing user, and hands `ctx.signal` to the store so
 * a deadline or cancel stops the work.
 *
 * @param store where users live; @default an in-memory store
 * @returns the implementation, for `router.service(UserService, userService())`
 * @example
 * connectNodeAdapter({ routes: (router) => router.service(UserService, userService()) })
 */
export function userService(store: UserStore = memoryStore()): ServiceImpl<typeof UserService> {
  return {
    async getUser(req, ctx) {
      if (req.id === '')
        throw new ValidationError('id is required', [{ path: 'id', message: 'required' }])
      const user = await store.get(req.id, ctx.signal)
      if (user === undefined) throw new ConnectError(`no user ${req.id}`, Code.NotFound)
      return { user }
    },
    async createUser(req, ctx) {
      const issues: FieldIssue[] = []
      if (req.name.trim() === '') issues.push({ path: 'name', message: 'required' })
      if (!/^[^@\s]+@[^@\s]+$/.test(req.email))
        issues.push({ path: 'email', message: 'not an email address' })
      if (issues.length > 0) throw new ValidationError('invalid user', issues)
      return { user: await store.create({ name: req.name.trim(), email: req.email }, ctx.signal) }
    },
  }
}

/** An in-memory store with ids `1`, `2`, ... */
export function memoryStore(): UserStore {
  const users = new Map<string, User>()
  let next = 1
  return {
    async get(id, signal) {
      signal.throwIfAborted()
      return users.get(id)
    },
    async create(fields, signal) {
      signal.throwIfAborted()
      const id = String(next++)
      const user = { $typeName: 'sturdy.example.user.v1.User', id, ...fields } as User
      users.set(id, user)
      return user
    },
  }
}
