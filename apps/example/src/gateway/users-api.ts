import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createGrpcTransport } from '@connectrpc/connect-node'
import type { ClientRetryInterceptor, RpcBreakerInterceptor } from '@sturdy/connect'
import {
  callContext,
  clientBreaker,
  clientDeadline,
  clientObservers,
  clientRetry,
  toSturdyError,
} from '@sturdy/connect'
import type { RequestValues } from '@sturdy/core'
import { UserService } from '@sturdy/example-proto'
import { rpcLogger } from '@sturdy/logger'
import { rpcMetrics } from '@sturdy/metrics'
import type { RetryBudget } from '@sturdy/retry'
import { rpcSpans } from '@sturdy/tracing'
import type { ServiceContext } from '../platform/service.ts'
import type { User } from '../users/repository.ts'

/** The users service as the gateway sees it. */
export interface UsersApi {
  /** The user, or undefined when there is none. */
  get(id: string, context: RequestValues): Promise<User | undefined>
  /** The new user; throws `UserConflict` when the email is taken. */
  create(input: { name: string; email: string }, context: RequestValues): Promise<User>
  /** The client's breaker set (one breaker for the service) and its key, for the status page. */
  readonly breakers: RpcBreakerInterceptor['breakers']
  readonly breakerKey: string
  /** The client's retry events (`retry`, `giveUp`...), for the status page. */
  readonly retries: ClientRetryInterceptor['events']
}

/** The users service said the email is taken. */
export class UserConflict extends Error {
  override readonly name = 'UserConflict'
}

/**
 * The users service over gRPC (Connect-ES on HTTP/2), with `@sturdy/connect`'s client
 * interceptors, outermost first: retries (only `GetUser`, whose proto says
 * `NO_SIDE_EFFECTS`; UNAVAILABLE with jitter, within the retry budget, never past the
 * deadline), observers (a CLIENT span, `rpc_client_call_duration_seconds` and a log
 * line per attempt), a breaker for the service, and the request's remaining deadline
 * stamped as `grpc-timeout` on every attempt. Errors come back as Sturdy errors (504,
 * 503 + Retry-After, 400 with fields...).
 */
export function grpcUsersApi(ctx: ServiceContext, url: string, budget: RetryBudget): UsersApi {
  const retries = clientRetry({ budget, maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500 })
  const breaker = clientBreaker({
    breakers: {
      name: 'users-rpc',
      breaker: {
        openMs: ctx.config.breakerOpenMs,
        ...(ctx.shared === undefined ? {} : { shared: ctx.shared.breakers }),
      },
    },
  })
  ctx.observe(retries, breaker)
  const client = createClient(
    UserService,
    createGrpcTransport({
      baseUrl: url,
      // connect-es#1768: keep an idle connection from outliving a balancer's idle timeout.
      pingIntervalMs: 30_000,
      interceptors: [
        retries,
        clientObservers(
          rpcSpans({ tracerProvider: ctx.telemetry.provider('gateway') }),
          rpcMetrics({ registry: ctx.registry }),
          rpcLogger({ logger: ctx.log }),
        ),
        breaker,
        clientDeadline({ wheel: ctx.wheel }),
      ],
    }),
  )
  const plain = (u: { id: string; name: string; email: string } | undefined): User => {
    if (u === undefined) throw new ConnectError('users answered without a user', Code.Internal)
    return { id: u.id, name: u.name, email: u.email }
  }
  return {
    breakers: breaker.breakers,
    breakerKey: UserService.typeName,
    retries: retries.events,
    async get(id, context) {
      try {
        return plain((await client.getUser({ id }, callContext(context))).user)
      } catch (error) {
        if (error instanceof ConnectError && error.code === Code.NotFound) return undefined
        throw toSturdyError(error)
      }
    },
    async create(input, context) {
      try {
        return plain((await client.createUser(input, callContext(context))).user)
      } catch (error) {
        if (error instanceof ConnectError && error.code === Code.AlreadyExists) {
          throw new UserConflict(`A user with email ${input.email} already exists`)
        }
        throw toSturdyError(error)
      }
    },
  }
}
