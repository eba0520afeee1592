/**
 * @module
 * `@sturdy/logger`: structured request logging with pino. One child logger per request
 * binding `req_id` and the OpenTelemetry `trace_id` / `span_id` / `trace_flags` exactly
 * once, one access line per request with its level chosen by status, client aborts
 * logged as aborts, secrets redacted and headers not logged by default, outgoing
 * calls of `@sturdy/client` in the request's logger (`clientLogger()`), and policy
 * events (breaker transitions, retries, give-ups) written to the logger you inject.
 */

export { ACCESS_MESSAGES } from './access-line.ts'
export type { ClientLoggerOptions, ClientLogLevels } from './client-logger.ts'
export { CLIENT_MESSAGES, clientLogger } from './client-logger.ts'
export type { AccessLevels, RequestLoggerOptions } from './logger-options.ts'
export type { PolicyLogLevels, PolicyLogOptions } from './policy-events.ts'
export { logPolicyEvents, POLICY_MESSAGES } from './policy-events.ts'
export { DEFAULT_REDACT_PATHS } from './redact.ts'
export { DEFAULT_MAX_REQUEST_ID_LENGTH, isSafeRequestId, randomRequestId } from './request-id.ts'
export type { RequestLoggerVariables } from './request-logger.ts'
export { requestLogger } from './request-logger.ts'
export type { RpcLoggerOptions, RpcLogLevels } from './rpc-logger.ts'
export { RPC_MESSAGES, rpcLogger } from './rpc-logger.ts'
export type { SerializedError } from './serialize-error.ts'
export { serializeError } from './serialize-error.ts'
export { formatTraceFlags } from './trace-fields.ts'
