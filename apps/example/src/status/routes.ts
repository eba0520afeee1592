import type { CircuitBreaker } from '@sturdy/breaker'
import type { Events, RetryEventMap } from '@sturdy/core'
import type { RetryBudget } from '@sturdy/retry'
import type { Hono } from 'hono'
import type { AppEnv, ServiceContext } from '../platform/service.ts'
import { STATUS_PAGE } from './page.ts'
import { routeStatus, sample, sampleWindow } from './snapshot.ts'

/** A dependency as the status page shows it: its breaker, retries and retry budget. */
export interface DependencyView {
  name: string
  /** Where it is reached. */
  target: string
  protocol: string
  /**
   * Its breaker, made if this process has not called it yet: with shared breakers (Redis)
   * it then shows the state the other replicas set, not a "closed" nobody measured.
   */
  breaker(): CircuitBreaker | undefined
  budget: RetryBudget
  /** Retry events of the client that calls it. */
  retries: Events<RetryEventMap>
  /** Only events with this name are its own (a client shared by several dependencies). */
  retryName?: string
}

/** Extra rows for the status page (fault injection settings, when a service has them). */
export type StatusExtras = () => Record<string, unknown>

/**
 * Mounts the live status page: `GET /status` (a static page) polls `GET /status.json`,
 * built from the process's own prom-client registry (RED per route), the client's
 * breakers and retry budgets, and the ring of recent slow traces.
 */
export function statusRoutes(
  app: Hono<AppEnv>,
  ctx: ServiceContext,
  dependencies: readonly DependencyView[],
  extras: StatusExtras = () => ({}),
): void {
  const started = performance.now()
  const counters = new Map<string, number>()
  const bump = (key: string) => counters.set(key, (counters.get(key) ?? 0) + 1)
  const offs = dependencies.flatMap((d) => {
    const mine = (e: { name: string }) => d.retryName === undefined || e.name === d.retryName
    return [
      d.retries.on('retry', (e) => mine(e) && bump(`retry ${d.name}`)),
      d.retries.on('giveUp', (e) => mine(e) && bump(`giveup ${d.name}`)),
    ]
  })
  ctx.life.onClose('status page', () => {
    for (const off of offs) off()
  })
  const window = sampleWindow()

  app.get('/status', (c) => c.html(STATUS_PAGE, 200, { 'cache-control': 'no-store' }))

  app.get('/status.json', async (c) => {
    const now = await sample(ctx.registry, counters, performance.now())
    const before = window.push(now)
    const delta = (key: string) => (now.counters.get(key) ?? 0) - (before?.counters.get(key) ?? 0)
    const uptimeS = (performance.now() - started) / 1000
    return c.json(
      {
        service: ctx.name,
        at: Date.now(),
        uptimeS: Math.round(uptimeS),
        windowS: before === undefined ? Math.round(uptimeS) : (now.at - before.at) / 1000,
        routes: routeStatus(now, before, uptimeS),
        dependencies: dependencies.map((d) => {
          const breaker = d.breaker()
          return {
            name: d.name,
            origin: d.target,
            protocol: d.protocol,
            breaker: breaker?.state ?? 'closed',
            retryAfterMs: breaker === undefined ? 0 : Math.round(breaker.retryAfterMs()),
            consecutiveFailures: breaker?.counts.consecutiveFailures ?? 0,
            retries: delta(`retry ${d.name}`),
            giveUps: delta(`giveup ${d.name}`),
            retriesTotal: now.counters.get(`retry ${d.name}`) ?? 0,
            budgetAvailable: d.budget.available(),
          }
        }),
        slowTraces: ctx.telemetry.slow.list(),
        ...extras(),
      },
      200,
      { 'cache-control': 'no-store' },
    )
  })
}
