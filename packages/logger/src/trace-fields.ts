import type { TraceContext } from '@sturdy/core'

/** The trace id of an invalid (absent) span context, as OpenTelemetry reports it. */
const INVALID_TRACE_ID = '00000000000000000000000000000000'

// Only two flag values occur in practice (sampled or not); cache their strings.
const FLAG_STRINGS: readonly string[] = ['00', '01']

/**
 * W3C trace flags as the two hex digits OpenTelemetry's pino instrumentation logs
 * (`01` = sampled), so logs look the same with or without auto-instrumentation.
 *
 * @param flags the span context's `traceFlags` (0–255)
 * @returns two lower-case hex digits
 * @example
 * formatTraceFlags(1) // '01'
 */
export function formatTraceFlags(flags: number): string {
  return FLAG_STRINGS[flags] ?? (flags & 0xff).toString(16).padStart(2, '0')
}

/** True for a trace context worth binding: present, with a non-zero trace id. */
export function isValidTrace(trace: TraceContext | undefined): trace is TraceContext {
  return (
    trace !== undefined &&
    typeof trace.traceId === 'string' &&
    trace.traceId.length > 0 &&
    trace.traceId !== INVALID_TRACE_ID
  )
}
