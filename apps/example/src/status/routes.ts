import type { Hono } from 'hono'
import type { Dependency, Downstream } from '../gateway/downstream.ts'
import type { AppEnv, ServiceContext } from '../platform/service.ts'
import { STATUS_PAGE } from './page.ts'
import { routeStatus, sample, sampleWindow } from './snapshot.ts'

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
  down: Downstream,
  extras: StatusExtras = () => ({}),
): void {
  const started = performance.now()
  const counters = new Map<string, number>()
  const bump = (key: string) => counters.set(key, (counters.get(key) ?? 0) + 1)
  const offRetry = down.client.retries.on('retry', (e) => bump(`retry ${e.name}`))
  const offGiveUp = down.client.retries.on('giveUp', (e) => bump(`giveup ${e.name}`))
  ctx.life.onClose('status page', () => {
    offRetry()
    offGiveUp()
  })
  const window = sampleWindow()
  const dependencies = Object.entries(down.origins) as Array<[Dependency, string]>

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
        dependencies: dependencies.map(([name, origin]) => {
          const breaker = down.client.breakers.peek(origin)
          return {
            name,
            origin,
            breaker: breaker?.state ?? 'closed',
            retryAfterMs: breaker === undefined ? 0 : Math.round(breaker.retryAfterMs()),
            consecutiveFailures: breaker?.counts.consecutiveFailures ?? 0,
            retries: delta(`retry ${origin}`),
            giveUps: delta(`giveup ${origin}`),
            retriesTotal: now.counters.get(`retry ${origin}`) ?? 0,
            budgetAvailable: down.budgets[name].available(),
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
