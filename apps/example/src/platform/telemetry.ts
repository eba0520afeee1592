import type { TracerProvider } from '@opentelemetry/api'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import type { Logger } from 'pino'
import type { Config, ServiceName } from '../config.ts'
import type { SlowTraces } from './slow-traces.ts'
import { slowTraces } from './slow-traces.ts'

/** The process's OpenTelemetry SDK: one tracer provider per service, one exporter. */
export interface Telemetry {
  /** The provider of a service's spans (its `service.name` on the resource). */
  provider(service: ServiceName): TracerProvider
  /** Recent slow SERVER spans of every service in the process, for the status page. */
  readonly slow: SlowTraces
  /** Flushes and stops every provider. */
  shutdown(): Promise<void>
}

/**
 * Registers the OpenTelemetry SDK: the AsyncLocalStorage context manager and the W3C
 * propagators globally, and one tracer provider per service, so every service's spans
 * carry their own `service.name` even when all of them share one process. Spans go to
 * OTLP/HTTP (`OTEL_EXPORTER_OTLP_ENDPOINT`, read by the exporter), to the log as JSON
 * lines (`console`), or nowhere (`none`); the slow-trace ring always sees them.
 */
export function setupTelemetry(
  config: Pick<Config, 'telemetry' | 'services' | 'slowTraceMs'>,
  logger: Logger,
): Telemetry {
  const slow = slowTraces({ thresholdMs: config.slowTraceMs })
  const providers = new Map<ServiceName, NodeTracerProvider>()
  const own = config.telemetry.serviceName
  for (const service of config.services) {
    const processors: SpanProcessor[] = [slow.processor(service)]
    const exporter = makeExporter(config.telemetry.exporter, logger)
    if (exporter !== undefined) {
      processors.push(
        config.telemetry.exporter === 'otlp'
          ? new BatchSpanProcessor(exporter)
          : new SimpleSpanProcessor(exporter),
      )
    }
    providers.set(
      service,
      new NodeTracerProvider({
        resource: resourceFromAttributes({
          // OTEL_SERVICE_NAME names a one-service process as is; otherwise each
          // service is `<name>-<service>`, so four services in one process stay apart.
          'service.name':
            own !== undefined && config.services.length === 1
              ? own
              : `${own ?? 'sturdy-example'}-${service}`,
          'service.namespace': 'sturdy-example',
        }),
        spanProcessors: processors,
      }),
    )
  }
  // The first service's provider is also the global one (context manager, propagators,
  // and any library that asks the API for a tracer).
  providers.get(config.services[0]!)!.register()
  return {
    provider: (service) => {
      const p = providers.get(service)
      if (p === undefined) throw new Error(`service ${service} does not run in this process`)
      return p
    },
    slow,
    shutdown: async () => {
      await Promise.all([...providers.values()].map((p) => p.shutdown()))
    },
  }
}

function makeExporter(
  kind: Config['telemetry']['exporter'],
  logger: Logger,
): SpanExporter | undefined {
  if (kind === 'otlp') return new OTLPTraceExporter()
  if (kind === 'console') return logSpanExporter(logger)
  return undefined
}

/** Spans as JSON log lines (`msg: "span"`), so the process prints nothing but JSON. */
function logSpanExporter(logger: Logger): SpanExporter {
  return {
    export(spans, done) {
      for (const span of spans) logger.info({ span: spanSummary(span) }, 'span')
      done({ code: 0 })
    },
    shutdown: async () => {},
  }
}

/** The fields of a span worth a log line. */
export function spanSummary(span: ReadableSpan): Record<string, unknown> {
  const ctx = span.spanContext()
  return {
    service: span.resource.attributes['service.name'],
    name: span.name,
    kind: SpanKind[span.kind],
    trace_id: ctx.traceId,
    span_id: ctx.spanId,
    parent_span_id: span.parentSpanContext?.spanId,
    duration_ms: Math.round((span.duration[0] * 1e3 + span.duration[1] / 1e6) * 1000) / 1000,
    status: span.status.code === SpanStatusCode.ERROR ? 'error' : 'ok',
    attributes: span.attributes,
    events: span.events.map((e) => e.name),
  }
}
