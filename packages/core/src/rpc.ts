/**
 * The RPC-call contract: what an RPC framework adapter (`@sturdy/connect` for
 * Connect-ES) hands the interceptors that observe its calls, so `@sturdy/tracing`,
 * `@sturdy/metrics` and `@sturdy/logger` provide gRPC observers while depending on
 * `@sturdy/core` alone — the RPC counterpart of `Middleware` + `Exchange` (server) and
 * `ClientInterceptor` + `OutgoingRequest` (client).
 */
import type { OutgoingResend, RequestValues } from './outgoing.ts'

/**
 * The gRPC status codes by name, as gRPC, Connect and OpenTelemetry's
 * `rpc.response.status_code` spell them. `OK` is success; the rest are failures.
 */
export type RpcCode =
  | 'OK'
  | 'CANCELLED'
  | 'UNKNOWN'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'OUT_OF_RANGE'
  | 'UNIMPLEMENTED'
  | 'INTERNAL'
  | 'UNAVAILABLE'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED'

/**
 * Every `RpcCode`, indexed by its numeric gRPC value (`RPC_CODES[4]` is
 * `DEADLINE_EXCEEDED`), so adapters convert without a table of their own.
 */
export const RPC_CODES: readonly RpcCode[] = Object.freeze([
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const)

/**
 * One RPC as an observer sees it: on a server, the call being served; on a client, one
 * attempt of a call (a retry is an attempt of its own). Read `code` and `error` after
 * `next()` has settled.
 */
export interface RpcCall {
  /** `server` for a call being served, `client` for an outgoing attempt. */
  readonly side: 'server' | 'client'
  /**
   * The RPC system, as OpenTelemetry's `rpc.system.name`: `grpc` (gRPC and gRPC-Web)
   * or `connectrpc` (the Connect protocol).
   */
  readonly system: string
  /** The fully-qualified service name, e.g. `acme.user.v1.UserService`. */
  readonly service: string
  /** The method name, e.g. `GetUser`. */
  readonly method: string
  /** True for a streaming method (client, server or bidi); `next()` then settles at the stream's end. */
  readonly streaming: boolean
  /**
   * The request metadata, lower-case names. A client observer adds entries here
   * (`traceparent`) before calling `next()`.
   */
  readonly header: RpcMetadata
  /** Client: the server's host name or address (from the base URL). Server: undefined. */
  readonly serverAddress: string | undefined
  /** Client: the server's port (the scheme's default when the URL has none). Server: undefined. */
  readonly serverPort: number | undefined
  /** 1 for the first attempt; retries count up from 2. Always 1 on a server. */
  readonly attempt: number
  /** Why this attempt is a retry, when it is one. */
  readonly resend: OutgoingResend | undefined
  /**
   * Server: the call's own values, shared with the handler (`signal`, `deadline`,
   * `trace`, `requestId`, `log`). Client: the values of the request that made the call.
   */
  readonly values: RequestValues
  /**
   * Shares a per-call value with the handler and the interceptors inside this one
   * (server; on a client it is ignored). Use the `VALUES` keys.
   */
  set(key: string, value: unknown): void
  /** The status the call ended with, after `next()`: `OK`, or the failure's code. */
  readonly code: RpcCode
  /** The failure, after `next()` rejected (the error the peer sees or the caller got). */
  readonly error: unknown
}

/** RPC metadata: lower-case names, one value each. */
export interface RpcMetadata {
  /** The value of `name`, or null when absent. */
  get(name: string): string | null
  /** Sets `name` (client requests only; server request metadata is read-only). */
  set(name: string, value: string): void
}

/**
 * Wraps an RPC: measures, traces, logs. It must call `next()` once and return (or
 * rethrow) when it settles; on a server the handler runs inside `next()`, on a client
 * the attempt goes out inside it. For a streaming call `next()` settles when the stream
 * has ended. After it, `call.code` and `call.error` say how the call ended.
 *
 * @example
 * const timing: RpcInterceptor = async (call, next) => {
 *   const started = performance.now()
 *   try {
 *     await next()
 *   } finally {
 *     console.log(`${call.service}/${call.method}`, call.code, performance.now() - started)
 *   }
 * }
 */
export type RpcInterceptor = (call: RpcCall, next: () => Promise<void>) => Promise<void>

/**
 * The fully-qualified method name OpenTelemetry's `rpc.method` and span names use:
 * `service/method`.
 *
 * @param call the RPC
 * @returns e.g. `acme.user.v1.UserService/GetUser`
 * @example rpcMethodName(call) // 'acme.user.v1.UserService/GetUser'
 */
export function rpcMethodName(call: Pick<RpcCall, 'service' | 'method'>): string {
  return `${call.service}/${call.method}`
}
