/**
 * @module
 * `@sturdy/lifecycle`: liveness and readiness probes, readiness checks with timeouts and
 * a cache, and a graceful drain that loses no request across a deploy — readiness fails
 * at once, the server keeps serving while endpoints propagate, connections close
 * politely (`Connection: close`, HTTP/2 GOAWAY), in-flight requests finish, stragglers
 * get 503 with `Retry-After`, resources close in reverse order, and the process exits
 * with one summary log line, all within one stated bound. Framework-neutral: the probes
 * and request tracking are one Sturdy middleware; the connection work takes the
 * `node:http`/`node:http2` server every framework ends on.
 */
export type { CheckFailure, CheckOptions, CheckResult, ReadinessCheck } from './checks.ts'
export type { DrainReport, ResourceOutcome } from './drain.ts'
export type { Lifecycle } from './lifecycle.ts'
export { lifecycle } from './lifecycle.ts'
export type { LifecycleLogger } from './logger.ts'
export { jsonLineLogger } from './logger.ts'
export type {
  CloseFn,
  CloseOptions,
  LifecycleOptions,
  SignalOptions,
  SignalSource,
} from './options.ts'
export type { LifecycleState, ProbeKind, ProbeResponse } from './probes.ts'
export type { DrainableServer } from './server.ts'
