import type { Client } from '@sturdy/client'
import { createClient } from '@sturdy/client'
import { clientLogger } from '@sturdy/logger'
import { clientMetrics } from '@sturdy/metrics'
import type { RetryBudget } from '@sturdy/retry'
import { retryBudget } from '@sturdy/retry'
import { clientSpans } from '@sturdy/tracing'
import type { ServiceContext } from '../platform/service.ts'

/** The downstream services the gateway calls over HTTP. */
export type Dependency = 'payments' | 'delivery'

/** The gateway's outgoing side: one pooled client, a retry budget per dependency. */
export interface Downstream {
  client: Client
  /**
   * The client for compensating calls (refunds, cancellations): no breaker — an undo must
   * not be refused because the step it undoes tripped one, nor count towards it — and
   * one more attempt.
   */
  undo: Client
  /** Base URL of each dependency. */
  urls: Record<Dependency, string>
  /** Each dependency's retry budget (shared by every call to it; on the status page). */
  budgets: Record<Dependency | 'users', RetryBudget>
  /** The breaker key (origin) of each dependency. */
  origins: Record<Dependency, string>
}

/**
 * The gateway's `@sturdy/client`: per dependency a keep-alive pool, retries with full
 * jitter for calls safe to repeat (GETs, and POSTs carrying an `Idempotency-Key`), a
 * retry budget, a breaker that fails fast while open; the request's deadline, trace and
 * request id travel with every call; a CLIENT span, a metric and a log line per attempt.
 */
export function downstream(ctx: ServiceContext): Downstream {
  const urls = ctx.config.urls
  const origins = {
    payments: new URL(urls.payments).origin,
    delivery: new URL(urls.delivery).origin,
  }
  const budgets = { users: retryBudget(), payments: retryBudget(), delivery: retryBudget() }
  const interceptors = () => [
    clientSpans({ tracerProvider: ctx.telemetry.provider('gateway') }),
    clientMetrics({ registry: ctx.registry }),
    clientLogger({ logger: ctx.log }),
  ]
  const client = createClient({
    interceptors: interceptors(),
    wheel: ctx.wheel,
    // A hop must answer well within the order's 5 s; a retry gets the rest.
    attemptTimeoutMs: 2000,
    connectTimeoutMs: 1000,
    retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 500 },
    // The budget sent on is 100 ms short of ours: the callee gives up first and says so
    // (504, its own access line and span), rather than our timer tearing the call down.
    marginMs: 100,
    // gobreaker's trip (more than 5 consecutive failures), open for BREAKER_OPEN_MS;
    // with REDIS_URL a trip through one gateway opens every gateway's breaker.
    breaker: {
      openMs: ctx.config.breakerOpenMs,
      ...(ctx.shared === undefined ? {} : { shared: ctx.shared.breakers }),
    },
    origins: Object.fromEntries(
      (Object.keys(origins) as Dependency[]).map((d) => [origins[d], { retryBudget: budgets[d] }]),
    ),
  })
  const undo = createClient({
    interceptors: interceptors(),
    wheel: ctx.wheel,
    attemptTimeoutMs: 1000,
    connectTimeoutMs: 1000,
    retry: { maxAttempts: 4, baseDelayMs: 50, maxDelayMs: 500 },
    breaker: false,
  })
  ctx.observe(...client.policies, ...undo.policies)
  ctx.life.onClose('gateway client', () => client.close())
  ctx.life.onClose('gateway undo client', () => undo.close())
  return {
    client,
    undo,
    urls: { payments: urls.payments, delivery: urls.delivery },
    budgets,
    origins,
  }
}
