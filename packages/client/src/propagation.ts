/**
 * What an outgoing call takes from the request that makes it — its signal, deadline,
 * trace and request id — and how that is written on the wire. Framework-free and
 * transport-free, so `@sturdy/connect` (and hand-written calls) reuse it.
 */
import type { Clock, RequestValues, TraceContext } from '@sturdy/core'
import { remaining, requestValue, traceStateOf, VALUES } from '@sturdy/core'
import type { StampOptions } from '@sturdy/timeout'
import { stampDeadline } from '@sturdy/timeout'

/** The header the inbound request id is forwarded in. */
export const REQUEST_ID_HEADER = 'x-request-id'

/** The parts of the inbound request an outgoing call carries on. */
export interface OutgoingContext {
  /** Aborts the call (deadline, client disconnect, shutdown). */
  readonly signal: AbortSignal | undefined
  /** The absolute deadline on the clock's scale, or undefined for none. */
  readonly deadline: number | undefined
  /** The request span's ids, for `traceparent`/`tracestate`. */
  readonly trace: TraceContext | undefined
  /** The request id, for `x-request-id`. */
  readonly requestId: string | undefined
}

/**
 * Reads what an outgoing call needs from the request's values (`c` or `c.var` in Hono,
 * `res.locals`, `request.sturdy`, `valuesOf(req)`).
 *
 * @param values the per-request values, or undefined
 * @returns signal, deadline, trace and request id (each undefined when absent)
 * @example
 * const { signal, deadline } = outgoingContext(c)
 */
export function outgoingContext(values: RequestValues | undefined): OutgoingContext {
  if (values === undefined) return NO_CONTEXT
  const deadline = requestValue<number>(values, VALUES.deadline)
  const requestId = requestValue<string>(values, VALUES.requestId)
  return {
    signal: requestValue<AbortSignal>(values, VALUES.signal),
    deadline: typeof deadline === 'number' ? deadline : undefined,
    trace: requestValue<TraceContext>(values, VALUES.trace),
    requestId: typeof requestId === 'string' ? requestId : undefined,
  }
}

const NO_CONTEXT: OutgoingContext = Object.freeze({
  signal: undefined,
  deadline: undefined,
  trace: undefined,
  requestId: undefined,
})

/**
 * The W3C `traceparent` naming `trace`'s span as the parent of the next hop.
 *
 * @param trace the span's ids
 * @returns `00-<trace-id>-<span-id>-<flags>`
 * @example traceparentOf(c.var.trace) // '00-0af7...-b7ad...-01'
 */
export function traceparentOf(trace: TraceContext): string {
  const flags = trace.traceFlags & 0xff
  return `00-${trace.traceId}-${trace.spanId}-${flags < 16 ? '0' : ''}${flags.toString(16)}`
}

const TRACE_ID = /^[0-9a-f]{32}$/
const SPAN_ID = /^[0-9a-f]{16}$/

/**
 * Writes `traceparent` (and `tracestate` when there is one) for `trace` into `headers`,
 * unless they already hold a `traceparent` (an interceptor's CLIENT span wins). Without
 * a client span the next hop's parent is the request's span; `@sturdy/tracing`'s
 * `clientSpans()` gives every attempt its own.
 *
 * @param headers lower-case header record, changed in place
 * @param trace the request span's ids; invalid ids write nothing
 * @returns whether anything was written
 */
export function stampTrace(headers: Record<string, string>, trace: TraceContext): boolean {
  if (headers.traceparent !== undefined) return false
  if (!TRACE_ID.test(trace.traceId) || !SPAN_ID.test(trace.spanId)) return false
  headers.traceparent = traceparentOf(trace)
  // The W3C spec says not to send an empty tracestate.
  const state = traceStateOf(trace)
  if (state !== undefined) headers.tracestate = state
  return true
}

/** Options of `attemptBudget()`. */
export interface AttemptBudgetOptions {
  /** Time kept back for the answer to travel home. @default 5 */
  marginMs?: number
  /** The attempt's own cap. @default Infinity */
  attemptMs?: number
  /** The clock the deadline is on. */
  clock: Clock
}

/**
 * The budget to announce to the next hop for one attempt: the smaller of the
 * attempt's own cap and what is left of the deadline, minus the margin, never below 0.
 *
 * @param deadline absolute deadline on `clock`, or undefined
 * @param options margin, the attempt's cap and the clock
 * @returns ms, or Infinity when there is neither deadline nor cap
 * @example
 * stampDeadline(headers, attemptBudget(c.var.deadline, { attemptMs: 2000, clock: systemClock }))
 */
export function attemptBudget(deadline: number | undefined, options: AttemptBudgetOptions): number {
  const left = remaining(deadline, options.clock)
  const cap = options.attemptMs ?? Number.POSITIVE_INFINITY
  const budget = Math.min(left, cap)
  if (budget === Number.POSITIVE_INFINITY) return budget
  return Math.max(0, budget - (options.marginMs ?? 5))
}

/**
 * Stamps the attempt's budget on the headers (`x-request-timeout-ms` by default, and
 * `grpc-timeout`/`connect-timeout-ms` when asked), through `@sturdy/timeout`.
 *
 * @param headers lower-case header record, changed in place
 * @param budgetMs from `attemptBudget()`; Infinity writes nothing
 * @param options which headers; `false` writes none
 */
export function stampBudget(
  headers: Record<string, string>,
  budgetMs: number,
  options: StampOptions | false,
): void {
  if (options === false || budgetMs === Number.POSITIVE_INFINITY) return
  stampDeadline(headers, budgetMs, options)
}
