import type { Http2Server } from 'node:http2'
import { createServer } from 'node:http2'
import { create } from '@bufbuild/protobuf'
import { Code, ConnectError } from '@connectrpc/connect'
import { connectNodeAdapter } from '@connectrpc/connect-node'
import { grpcHealth, serverDeadline, serverErrors, serverObservers } from '@sturdy/connect'
import type { UserStore } from '@sturdy/example-proto'
import { UserSchema, UserService, userService } from '@sturdy/example-proto'
import { rpcLogger } from '@sturdy/logger'
import { rpcMetrics } from '@sturdy/metrics'
import { rpcSpans } from '@sturdy/tracing'
import type { ServiceContext } from '../platform/service.ts'
import type { UserRepository } from './repository.ts'
import { EmailTakenError } from './repository.ts'

/**
 * The users service: the Connect/gRPC `UserService` (the reference implementation from
 * `@sturdy/example-proto`) on the SQL repository, plus `grpc.health.v1` following the
 * lifecycle (NOT_SERVING from the first moment of a drain; `Check("")` runs the
 * readiness checks, the database ping among them). Cleartext HTTP/2: gRPC, gRPC-Web and
 * Connect clients alike. Every call: a SERVER span, `rpc_server_call_duration_seconds`,
 * an access line, the caller's deadline (`grpc-timeout`) honoured and handed to the
 * query as `ctx.signal`, errors mapped to gRPC codes.
 */
export function usersServer(ctx: ServiceContext, repo: UserRepository): Http2Server {
  const health = grpcHealth({
    readiness: ctx.life,
    services: { [UserService.typeName]: 'SERVING' },
  })
  const deadline = serverDeadline({
    budgetMs: ctx.config.requestBudgetMs,
    shutdown: ctx.life.signal,
    wheel: ctx.wheel,
    name: 'users-deadline',
  })
  ctx.observe(deadline)
  const handler = connectNodeAdapter({
    routes: (router) => {
      health.register(router)
      router.service(UserService, userService(sqlStore(repo)))
    },
    interceptors: [
      serverObservers(
        rpcSpans({ tracerProvider: ctx.telemetry.provider('users') }),
        rpcMetrics({ registry: ctx.registry }),
        rpcLogger({ logger: ctx.log }),
      ),
      deadline,
      serverErrors(),
    ],
  })
  return createServer(handler)
}

/** The reference implementation's store, on SQL: taken emails are ALREADY_EXISTS. */
function sqlStore(repo: UserRepository): UserStore {
  return {
    async get(id, signal) {
      const user = await repo.get(id, signal)
      return user === undefined ? undefined : create(UserSchema, user)
    },
    async create(input, signal) {
      try {
        return create(UserSchema, await repo.create(input, signal))
      } catch (error) {
        if (error instanceof EmailTakenError)
          throw new ConnectError(error.message, Code.AlreadyExists)
        throw error
      }
    },
  }
}
