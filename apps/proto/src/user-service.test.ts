import { createServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { Code, type ConnectError, createClient } from '@connectrpc/connect'
import { connectNodeAdapter, createGrpcTransport } from '@connectrpc/connect-node'
import {
  clientRetry,
  isSafeToRetry,
  serverDeadline,
  serverErrors,
  toSturdyError,
} from '@sturdy/connect'
import { isValidationError } from '@sturdy/core'
import { describe, expect, it } from 'vitest'
import { UserService, userService } from './index.ts'

describe('UserService (reference implementation)', () => {
  it('creates and reads users over gRPC; bad input is INVALID_ARGUMENT with fields', async () => {
    const server = createServer(
      connectNodeAdapter({
        routes: (router) => router.service(UserService, userService()),
        interceptors: [serverDeadline(), serverErrors()],
      }),
    )
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      const users = createClient(
        UserService,
        createGrpcTransport({ baseUrl, interceptors: [clientRetry()] }),
      )
      const created = await users.createUser({ name: 'Ada', email: 'ada@example.com' })
      expect(created.user?.id).toBe('1')
      expect((await users.getUser({ id: '1' })).user?.name).toBe('Ada')
      const missing = (await users.getUser({ id: '9' }).catch((e) => e)) as ConnectError
      expect(missing.code).toBe(Code.NotFound)
      const invalid = await users.createUser({ name: '', email: 'x' }).catch((e) => e)
      expect((invalid as ConnectError).code).toBe(Code.InvalidArgument)
      const sturdy = toSturdyError(invalid)
      expect(isValidationError(sturdy) && sturdy.issues.map((i) => i.path)).toEqual([
        'name',
        'email',
      ])
      expect(isSafeToRetry(UserService.method.getUser)).toBe(true)
      expect(isSafeToRetry(UserService.method.createUser)).toBe(false)
    } finally {
      server.close()
    }
  })
})
