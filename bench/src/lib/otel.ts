/**
 * The OpenTelemetry SDK every tracing contender shares, set up as NodeSDK does:
 * a NodeTracerProvider registered globally (AsyncLocalStorage context manager + W3C
 * propagator), 100% sampling, a BatchSpanProcessor, and an exporter that discards spans
 * (it only counts them, so the orchestrator can check spans were really produced).
 */
import type { TracerProvider } from '@opentelemetry/api'
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'

/** Counts and drops spans. */
class DiscardExporter implements SpanExporter {
  count = 0
  export(spans: ReadableSpan[], done: (result: { code: number }) => void): void {
    this.count += spans.length
    done({ code: 0 })
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
  forceFlush(): Promise<void> {
    return Promise.resolve()
  }
}

/** A registered SDK and the number of spans it has exported so far. */
export interface Sdk {
  readonly provider: TracerProvider
  spans(): number
}

/** Starts the SDK: registers the provider, context manager and propagator globally. */
export function startSdk(): Sdk {
  const exporter = new DiscardExporter()
  const provider = new NodeTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  })
  provider.register()
  return { provider, spans: () => exporter.count }
}
