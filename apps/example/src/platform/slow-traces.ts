import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base'

/** One slow request, as the status page lists it. */
export interface SlowTrace {
  traceId: string
  service: string
  name: string
  durationMs: number
  status: number | undefined
  error: boolean
  /** Epoch ms when the span ended. */
  endedAt: number
}

/** A bounded ring of recent slow SERVER spans, fed by a span processor per service. */
export interface SlowTraces {
  processor(service: string): SpanProcessor
  /** Newest first. */
  list(): SlowTrace[]
}

/** Options of `slowTraces`. */
export interface SlowTracesOptions {
  /** A SERVER span at least this long is kept. @default 250 */
  thresholdMs?: number
  /** Most entries kept; the oldest goes first. @default 20 */
  size?: number
}

/**
 * Keeps the most recent slow SERVER spans (and every failed one: a 5xx is worth a look
 * however fast it was) in a fixed-size ring — memory stays bounded whatever the load.
 */
export function slowTraces(options: SlowTracesOptions = {}): SlowTraces {
  const threshold = options.thresholdMs ?? 250
  const size = options.size ?? 20
  const ring: SlowTrace[] = []
  let next = 0
  return {
    processor(service) {
      return {
        onStart() {},
        onEnd(span: ReadableSpan) {
          if (span.kind !== SpanKind.SERVER) return
          const durationMs = span.duration[0] * 1e3 + span.duration[1] / 1e6
          const error = span.status.code === SpanStatusCode.ERROR
          if (durationMs < threshold && !error) return
          const status = span.attributes['http.response.status_code']
          const entry: SlowTrace = {
            traceId: span.spanContext().traceId,
            service,
            name: span.name,
            durationMs: Math.round(durationMs * 10) / 10,
            status: typeof status === 'number' ? status : undefined,
            error,
            endedAt: Date.now(),
          }
          if (ring.length < size) ring.push(entry)
          else ring[next] = entry
          next = (next + 1) % size
        },
        forceFlush: async () => {},
        shutdown: async () => {},
      }
    },
    list() {
      return [...ring].sort((a, b) => b.endedAt - a.endedAt)
    },
  }
}
