import type { Exchange, Middleware } from '@sturdy/core'
import { problemResponse, statusTitle } from '@sturdy/core'
import type { SturdyEnv } from '@sturdy/hono'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import type { Lifecycle } from '@sturdy/lifecycle'
import { logPolicyEvents, requestLogger } from '@sturdy/logger'
import type { PolicyMetrics } from '@sturdy/metrics'
import { DEFAULT_SKIP_PATHS, httpMetrics } from '@sturdy/metrics'
import type { RouteBudgets, TimerWheel } from '@sturdy/timeout'
import { deadline } from '@sturdy/timeout'
import { traceEvents, tracing } from '@sturdy/tracing'
import type { Context } from 'hono'
import { Hono } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { type Config, SERVICES, type ServiceName } from '../config.ts'
import type { SharedState } from './shared-state.ts'
import type { Telemetry } from './telemetry.ts'

/** What every service of the process shares: config, logs, metrics, traces, lifecycle. */
export interface Platform {
  config: Config
  /** The root logger; each service logs through a child bound to `service`. */
  logger: Logger
  /** The process's one registry, served on the metrics port. */
  registry: Registry
  policyMetrics: PolicyMetrics
  telemetry: Telemetry
  life: Lifecycle
  /** One timer wheel for every deadline and client timeout in the process. */
  wheel: TimerWheel
  /** The gateway's shared stores in Redis (`REDIS_URL`); undefined: in memory. */
  shared: SharedState | undefined
}

/** A service's own slice of the platform. */
export interface ServiceContext extends Platform {
  name: ServiceName
  /** The root logger bound to `service: name`. */
  log: Logger
  /**
   * Subscribes metrics, span events and log lines to a policy's events (a breaker, a
   * retry, chaos); unsubscribed at shutdown.
   */
  observe(...policies: Parameters<PolicyMetrics['observe']>[0][]): void
}

/** Builds a service's context, registering its observers' disposal with the lifecycle. */
export function serviceContext(platform: Platform, name: ServiceName): ServiceContext {
  const log = platform.logger.child({ service: name })
  const disposers: Array<() => void> = []
  platform.life.onClose(`${name} observers`, () => {
    for (const dispose of disposers.splice(0)) dispose()
  })
  return {
    ...platform,
    name,
    log,
    observe(...policies) {
      for (const policy of policies) disposers.push(platform.policyMetrics.observe(policy))
      disposers.push(logPolicyEvents(policies, log), traceEvents(policies))
    },
  }
}

// The status page polls once a second: its requests are not traffic worth a span, an
// access line or a series.
const QUIET_PATHS = new Set(['/status.json', '/favicon.ico'])
const quiet = (ex: Exchange) => QUIET_PATHS.has(ex.path)

const stack = (ctx: ServiceContext, routes?: RouteBudgets) =>
  [
    ctx.life.middleware(),
    tracing({ tracerProvider: ctx.telemetry.provider(ctx.name), skip: quiet }),
    requestLogger({ logger: ctx.log, skip: quiet }),
    httpMetrics({
      registry: ctx.registry,
      skip: [...DEFAULT_SKIP_PATHS, ...QUIET_PATHS],
      labels: { service: { value: () => ctx.name, allow: [...SERVICES] } },
    }),
    deadline({
      budgetMs: ctx.config.requestBudgetMs,
      routes,
      shutdown: ctx.life.signal,
      wheel: ctx.wheel,
      name: `${ctx.name}-deadline`,
    }),
  ] as const

/** Hono's `Env` of every service: `c.var.signal`, `deadline`, `log`, `requestId`, `trace`. */
export type AppEnv = SturdyEnv<ReturnType<typeof stack>>

/**
 * A service's Hono app with the whole Sturdy stack, outermost first: lifecycle (probes,
 * in-flight tracking), then `front` (load shedding), tracing, the request logger, RED
 * metrics, the request deadline, then `extra` (fault injection) — every error as
 * problem+json.
 *
 * `front` runs before any span, access line or series is made, so a request it refuses
 * costs little more than its HTTP parsing: at twice the gateway's capacity, a limit
 * mounted after them spent about as much CPU refusing a request as serving one, and
 * goodput fell to half of capacity. Its refusals are counted by its own metrics
 * (`sturdy_limit_shed_total`) and events.
 */
export function serviceApp(
  ctx: ServiceContext,
  options: {
    routes?: RouteBudgets
    front?: readonly Middleware[]
    extra?: readonly Middleware[]
  } = {},
): Hono<AppEnv> {
  const middleware = stack(ctx, options.routes)
  ctx.observe(middleware[4])
  const [life, ...rest] = middleware
  const app = new Hono<AppEnv>().use(sturdy(life, ...(options.front ?? []), ...rest))
  if (options.extra !== undefined && options.extra.length > 0) app.use(sturdy(...options.extra))
  app.get('/favicon.ico', (c) => c.body(null, 204))
  app.notFound((c) => problem(c, 404, `No route for ${c.req.method} ${c.req.path}`))
  app.onError(problemErrorHandler())
  return app
}

/**
 * Answers an RFC 9457 problem through core's one renderer (`Retry-After` from a
 * `retryAfterMs` member included), like every Sturdy answer.
 */
export function problem(
  c: Context,
  status: ContentfulStatusCode,
  detail: string,
  extra: Record<string, unknown> = {},
): Response {
  const answer = problemResponse({ title: titleOf(status), status, detail, ...extra })
  return c.body(answer.body, answer.status as ContentfulStatusCode, answer.headers)
}

// Core's statusTitle() knows the statuses Sturdy itself answers; the app adds its own.
const APP_TITLES: Readonly<Record<number, string>> = {
  409: 'Conflict',
  422: 'Unprocessable Content',
}

/** The reason phrase of `status`. */
export function titleOf(status: number): string {
  return APP_TITLES[status] ?? statusTitle(status)
}
