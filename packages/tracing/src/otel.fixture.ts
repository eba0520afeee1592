/**
 * Test fixture (not exported): registers a real OpenTelemetry SDK — in-memory exporter,
 * AsyncLocalStorage context manager, W3C trace-context + baggage propagators — for one
 * test file, and takes it all down again. Vitest runs each file in its own worker, and
 * `unregister()` restores the API's globals too, so no state leaks between files.
 */
import { context, propagation, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'

export interface OtelFixture {
  readonly provider: BasicTracerProvider
  readonly exporter: InMemorySpanExporter
  /** Finished spans, oldest first. */
  spans(): ReadableSpan[]
  unregister(): Promise<void>
}

export function registerOtel(): OtelFixture {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const contextManager = new AsyncLocalStorageContextManager().enable()
  trace.setGlobalTracerProvider(provider)
  context.setGlobalContextManager(contextManager)
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  )
  return {
    provider,
    exporter,
    spans: () => exporter.getFinishedSpans(),
    async unregister() {
      trace.disable()
      context.disable()
      propagation.disable()
      await provider.shutdown()
    },
  }
}

/** A fresh, unregistered provider with its own exporter, for injection tests. */
export function privateProvider(): {
  provider: BasicTracerProvider
  exporter: InMemorySpanExporter
} {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { provider, exporter }
}
