import type { Context, TextMapPropagator, TextMapSetter } from '@opentelemetry/api'
import { context, createTraceState, propagation, trace } from '@opentelemetry/api'
import type { TraceContext } from '@sturdy/core'
import { traceStateOf } from '@sturdy/core'
import type { HeaderCarrier } from './types.ts'

/**
 * Writes the trace context (`traceparent`, `tracestate`, baggage: whatever the
 * propagator carries) into the headers of an outgoing call, so the next service joins
 * this trace. It creates no span: for `@sturdy/client` calls, `clientSpans()` makes one
 * CLIENT span per attempt and injects from it.
 *
 * `from` is an OpenTelemetry `Context`, or the `TraceContext` the `tracing()` middleware
 * shares (`c.var.trace`), which works without a context manager. With neither, the
 * active context is used. With no valid span in it, nothing is written.
 *
 * Existing propagation headers are replaced, whatever their case, never duplicated:
 * two `traceparent` values would be folded into one malformed header by the receiver.
 *
 * @param headers a Fetch `Headers` or a plain header record; modified in place
 * @param from the context to propagate; @default `context.active()`
 * @param propagator the propagator; @default the global propagator (`propagation`)
 * @returns `headers`, for chaining
 * @example
 * import { injectTraceHeaders } from '@sturdy/tracing'
 *
 * app.get('/orders/:id', async (c) => {
 *   const headers = injectTraceHeaders(new Headers({ accept: 'application/json' }), c.var.trace)
 *   return c.json(await (await fetch('http://inventory.internal/items', { headers })).json())
 * })
 */
export function injectTraceHeaders<H extends HeaderCarrier>(
  headers: H,
  from?: Context | TraceContext,
  propagator: TextMapPropagator = propagation,
): H {
  const ctx = from === undefined ? context.active() : isContext(from) ? from : contextFrom(from)
  if (isHeaders(headers)) propagator.inject(ctx, headers, HEADERS_SETTER)
  else propagator.inject(ctx, headers, RECORD_SETTER)
  return headers
}

/**
 * An OpenTelemetry `Context` whose span is the one a `TraceContext` names, for starting
 * child spans or injecting headers without a context manager.
 *
 * @param traceContext ids as `tracing()` shares them (`c.var.trace`)
 * @param base the context to extend (keeps its baggage); @default `context.active()`
 * @returns a context holding a non-recording span with those ids
 * @example
 * const ctx = contextFrom(c.var.trace)
 * const span = tracer.startSpan('load-user', {}, ctx) // a child of the request's span
 */
export function contextFrom(traceContext: TraceContext, base: Context = context.active()): Context {
  const state = traceStateOf(traceContext)
  return trace.setSpanContext(base, {
    traceId: traceContext.traceId,
    spanId: traceContext.spanId,
    traceFlags: traceContext.traceFlags,
    isRemote: false,
    ...(state === undefined ? {} : { traceState: createTraceState(state) }),
  })
}

function isContext(value: Context | TraceContext): value is Context {
  return typeof (value as Context).getValue === 'function'
}

function isHeaders(value: HeaderCarrier): value is Headers {
  return (
    typeof (value as Headers).set === 'function' && typeof (value as Headers).get === 'function'
  )
}

/**
 * The W3C spec says a sender should not send an empty `tracestate` (a propagator
 * writes one when every entry of an incoming tracestate was invalid).
 */
function empty(key: string, value: string): boolean {
  return value === '' && key.toLowerCase() === 'tracestate'
}

const HEADERS_SETTER: TextMapSetter<Headers> = {
  set(headers, key, value) {
    if (empty(key, value)) headers.delete(key)
    else headers.set(key, value)
  },
}

type HeaderRecord = Exclude<HeaderCarrier, Headers>

export const RECORD_SETTER: TextMapSetter<HeaderRecord> = {
  set(headers, key, value) {
    // node:http sends `Traceparent` and `traceparent` as two headers: drop other spellings.
    const lower = key.toLowerCase()
    for (const name of Object.keys(headers)) {
      if (name !== key && name.toLowerCase() === lower) delete headers[name]
    }
    if (empty(key, value)) delete headers[key]
    else headers[key] = value
  },
}
