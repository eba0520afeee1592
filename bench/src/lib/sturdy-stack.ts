/**
 * Builds Sturdy server middleware for the contenders, one place for every framework, so
 * the Hono, Express and Fastify contenders mount exactly the same pieces.
 *
 * Option names follow each package's `src/index.ts`; a piece whose package or factory is
 * not there yet is skipped and listed in `wiring.missing`.
 */
import type { TracerProvider } from '@opentelemetry/api'
import type { Middleware } from '@sturdy/core'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { Wiring } from './sturdy.ts'

/** A Sturdy middleware piece the suite knows how to build. */
export type Piece = 'tracing' | 'logger' | 'metrics' | 'deadline'

/** What the pieces are built with: the same SDK, logger and registry type as the anchors. */
export interface StackDeps {
  tracerProvider?: TracerProvider
  logger?: Logger
  registry?: Registry
  /** Deadline budget; long enough never to fire in the throughput runs. */
  budgetMs?: number
}

/** Builds the pieces in order; returns the middleware and what was (not) wired. */
export function sturdyStack(
  pieces: readonly Piece[],
  deps: StackDeps,
): { middleware: Middleware<object>[]; wiring: Wiring } {
  const wiring = new Wiring()
  const middleware: Middleware<object>[] = []
  for (const piece of pieces) {
    const built = build(piece, deps, wiring)
    if (built !== undefined) middleware.push(built)
  }
  return { middleware, wiring }
}

function build(piece: Piece, deps: StackDeps, wiring: Wiring): Middleware<object> | undefined {
  switch (piece) {
    case 'tracing': {
      const tracing = wiring.factory('tracing', ['tracing'])
      if (tracing === undefined) return undefined
      wiring.use('@sturdy/tracing tracing()')
      return tracing({ tracerProvider: deps.tracerProvider })
    }
    case 'logger': {
      const requestLogger = wiring.factory('logger', ['requestLogger'])
      if (requestLogger === undefined) return undefined
      wiring.use('@sturdy/logger requestLogger()')
      return requestLogger({ logger: deps.logger })
    }
    case 'metrics': {
      const httpMetrics = wiring.factory('metrics', ['httpMetrics'])
      if (httpMetrics === undefined) return undefined
      wiring.use('@sturdy/metrics httpMetrics()')
      return httpMetrics({ registry: deps.registry })
    }
    case 'deadline': {
      const deadline = wiring.factory('timeout', ['deadline'])
      if (deadline === undefined) return undefined
      wiring.use('@sturdy/timeout deadline()')
      return deadline({ budgetMs: deps.budgetMs ?? 5000 })
    }
  }
}
