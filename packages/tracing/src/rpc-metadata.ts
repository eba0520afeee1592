import type { Context, Span } from '@opentelemetry/api'
import { createContextKey } from '@opentelemetry/api'

/**
 * The context key under which `@opentelemetry/instrumentation-http` stores the
 * request's `RPCMetadata` (`@opentelemetry/core` `setRPCMetadata`). `createContextKey` is
 * `Symbol.for(description)`, so rebuilding it from the description reaches the same
 * slot without depending on `@opentelemetry/core` (an SDK package). The description is an
 * internal string, which is why `instrumentation-http.test.ts` pins it against the real
 * instrumentation.
 */
export const RPC_METADATA_KEY: symbol = createContextKey(
  'OpenTelemetry SDK Context Key RPC_METADATA',
)

/**
 * The shape of `@opentelemetry/core`'s `HTTPMetadata`. instrumentation-http reads
 * `route` from this very object when the response closes, to name its span and label
 * `http.server.request.duration`; contexts are immutable but the object is shared by
 * reference, so setting `route` on it is how a framework layer reports the route
 * (instrumentation-express does the same).
 */
export interface HttpRpcMetadata {
  type: 'http'
  span: Span
  route?: string
}

/** The HTTP RPC metadata in `ctx`, when an HTTP server instrumentation put one there. */
export function httpRpcMetadata(ctx: Context): HttpRpcMetadata | undefined {
  const value = ctx.getValue(RPC_METADATA_KEY) as Partial<HttpRpcMetadata> | undefined
  return value !== undefined && value.type === 'http' && value.span !== undefined
    ? (value as HttpRpcMetadata)
    : undefined
}
