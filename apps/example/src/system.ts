import { once } from 'node:events'
import type { RequestListener, ServerOptions } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { Lifecycle } from '@sturdy/lifecycle'
import { lifecycle } from '@sturdy/lifecycle'
import type { ConcurrencyLimitMiddleware } from '@sturdy/limit'
import { shedEarly } from '@sturdy/limit/node'
import { policyMetrics, serveMetrics } from '@sturdy/metrics'
import { timerWheel } from '@sturdy/timeout'
import type { Hono } from 'hono'
import type { Logger } from 'pino'
import { Gauge, Registry } from 'prom-client'
import type { Config, ServiceName } from './config.ts'
import type { Database } from './db/database.ts'
import { openDatabase } from './db/open.ts'
import { deliveryApp } from './delivery/app.ts'
import { gatewayApp, overloadLimit } from './gateway/app.ts'
import { downstream } from './gateway/downstream.ts'
import { grpcUsersApi } from './gateway/users-api.ts'
import { paymentsApp } from './payments/app.ts'
import type { AppEnv, Platform } from './platform/service.ts'
import { serviceContext } from './platform/service.ts'
import { sharedState } from './platform/shared-state.ts'
import type { Telemetry } from './platform/telemetry.ts'
import { usersServer } from './users/grpc.ts'
import { userRepository } from './users/repository.ts'

/** A running system: the services of this process, their URLs, and their lifecycle. */
export interface System {
  /** Base URL of each service this process runs. */
  urls: Partial<Record<ServiceName, string>>
  /** The metrics server's URL (`/metrics`). */
  metricsUrl: string
  life: Lifecycle
  registry: Registry
  db: Database | undefined
}

/** What `startSystem` needs besides the config. */
export interface SystemOptions {
  logger: Logger
  telemetry: Telemetry
  /** Called once the drain ends. @default process.exit */
  exit?: (code: number) => void
}

/**
 * Starts the configured services in this process — `all` of them by default, or one,
 * as it would run in its own container — on one lifecycle (probes, drain), one metrics
 * registry (served on `METRICS_PORT`) and one timer wheel. The database is opened (and
 * migrated) only when a service here needs it: the gateway (idempotency keys) or users.
 */
export async function startSystem(config: Config, options: SystemOptions): Promise<System> {
  const { logger, telemetry } = options
  const registry = new Registry()
  const life = lifecycle({
    drainDelayMs: config.drainDelayMs,
    // Most resources close at once (observers, pools); telemetry and the database get
    // their own 3 s. The bound stays under Kubernetes' default 30 s grace period.
    closeTimeoutMs: 1000,
    logger,
    ...(options.exit === undefined ? {} : { exit: options.exit }),
  })
  // Drain events for the dashboard and alerts in deploy/: 1 from the signal on. The
  // metrics server closes with the resources, after the drain window: scrapes see it.
  const draining = new Gauge({
    name: 'sturdy_lifecycle_draining',
    help: '1 while this process drains (after SIGTERM), else 0.',
    registers: [registry],
  })
  draining.set(0)
  life.subscribe((state) => draining.set(state === 'serving' ? 0 : 1))
  // Resources close in reverse order: telemetry last, so the drain's spans are flushed.
  life.onClose('telemetry', () => telemetry.shutdown(), { timeoutMs: 3000 })
  const platform: Platform = {
    config,
    logger,
    registry,
    policyMetrics: policyMetrics({ registry }),
    telemetry,
    life,
    wheel: timerWheel(),
    // Only the gateway has state to share (its rate limit and downstream breakers).
    shared: config.services.includes('gateway')
      ? sharedState(config.redisUrl, life, logger)
      : undefined,
  }

  const has = (s: ServiceName) => config.services.includes(s)
  let db: Database | undefined
  if (has('gateway') || has('users')) {
    db = await openDatabase(config.database, logger)
    const opened = db
    life.onClose('database', () => opened.close(), { timeoutMs: 3000 })
    // Readiness fails when the database does not answer within the check's timeout.
    life.check('database', async (signal) => {
      await opened.ping(signal)
      return true
    })
  }

  const urls: Partial<Record<ServiceName, string>> = {}
  if (has('users')) {
    // gRPC over cleartext HTTP/2; probes through grpc.health.v1 (Kubernetes' grpc probe).
    const server = usersServer(serviceContext(platform, 'users'), userRepository(db!))
    server.listen(config.ports.users, config.host)
    await once(server, 'listening')
    life.serve(server)
    urls.users = `http://${config.host}:${(server.address() as AddressInfo).port}`
    logger.info({ service: 'users', url: urls.users, protocol: 'grpc' }, 'listening')
  }
  // With a limit, requests it would refuse at once are answered at the listener, before
  // Hono and the tracing context: under overload most requests are refused, and a
  // refusal then costs little more than its HTTP parsing.
  const listen = async (
    name: ServiceName,
    app: Hono<AppEnv>,
    limit?: ConcurrencyLimitMiddleware,
  ) => {
    const server = serve({
      fetch: app.fetch,
      port: config.ports[name],
      hostname: config.host,
      ...(limit === undefined
        ? {}
        : {
            createServer: ((options: ServerOptions, listener: RequestListener) =>
              createServer(options, shedEarly(limit, listener))) as typeof createServer,
          }),
    })
    await once(server, 'listening')
    life.serve(server)
    const { port } = server.address() as AddressInfo
    urls[name] = `http://${config.host}:${port}`
    logger.info({ service: name, url: urls[name] }, 'listening')
  }
  if (has('payments')) await listen('payments', paymentsApp(serviceContext(platform, 'payments')))
  if (has('delivery')) await listen('delivery', deliveryApp(serviceContext(platform, 'delivery')))
  if (has('gateway')) {
    // In one process the gateway calls the others where they actually listen (a port of
    // 0 included); alone, where USERS_URL, PAYMENTS_URL and DELIVERY_URL say.
    const local = {
      ...config,
      urls: {
        users: urls.users ?? config.urls.users,
        payments: urls.payments ?? config.urls.payments,
        delivery: urls.delivery ?? config.urls.delivery,
      },
    }
    const ctx = serviceContext({ ...platform, config: local }, 'gateway')
    const down = downstream(ctx)
    const users = grpcUsersApi(ctx, local.urls.users, down.budgets.users)
    const limit = overloadLimit(ctx)
    await listen('gateway', gatewayApp(ctx, { db: db!, users, down, limit }), limit)
  }

  const metrics = await serveMetrics({ registry, port: config.metricsPort, host: config.host })
  life.onClose('metrics server', () => metrics.close())
  logger.info({ url: `${metrics.url}`, drain_bound_ms: life.boundMs }, 'metrics listening')
  return { urls, metricsUrl: metrics.url, life, registry, db }
}
