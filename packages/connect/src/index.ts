/**
 * @module
 * `@sturdy/connect`: Sturdy's policies and observability for Connect-ES 2 — gRPC,
 * gRPC-Web and the Connect protocol, on servers and clients. Interceptors, each usable
 * alone: deadlines that cancel work and travel to the next hop (`serverDeadline`,
 * `clientDeadline`), retries by the proto's `idempotency_level` with pushback and a
 * shared budget (`clientRetry`), circuit breakers per service or method
 * (`clientBreaker`, `serverBreaker`), errors mapped both ways (`serverErrors`,
 * `toConnectError`, `toSturdyError`), and observers from `@sturdy/tracing`,
 * `@sturdy/metrics` and `@sturdy/logger` (`serverObservers`, `clientObservers`). Plus
 * the standard `grpc.health.v1` service wired to readiness (`grpcHealth`).
 * Runtime-neutral: nothing here imports `@connectrpc/connect-node`.
 */

export type { RpcBreakerInterceptor, RpcBreakerOptions } from './breaker.ts'
export { clientBreaker, serverBreaker } from './breaker.ts'
export type { ClientDeadlineOptions } from './client-deadline.ts'
export { clientDeadline } from './client-deadline.ts'
export type { ClientRetryInterceptor, ClientRetryOptions } from './client-retry.ts'
export { clientRetry, isSafeToRetry } from './client-retry.ts'
export {
  isRpcStatusError,
  PUSHBACK_HEADER,
  RpcStatusError,
  rpcCodeOf,
  toConnectError,
  toSturdyError,
} from './errors.ts'
export type { GrpcHealth, GrpcHealthOptions, HealthSource, HealthStatus } from './health.ts'
export { grpcHealth } from './health.ts'
export { clientObservers, serverObservers } from './observers.ts'
export type { ServerDeadlineInterceptor, ServerDeadlineOptions } from './server-deadline.ts'
export { serverDeadline } from './server-deadline.ts'
export { serverErrors } from './server-errors.ts'
export { callContext, valuesOf } from './values.ts'
