import { clientIp } from '@sturdy/rate-limit'
import { z } from 'zod'

/** The services this app can run; `all` runs every one in one process. */
export const SERVICES = ['gateway', 'users', 'payments', 'delivery'] as const
/** One of the example's services. */
export type ServiceName = (typeof SERVICES)[number]

const port = (fallback: number) =>
  z.coerce
    .number({ error: 'expected a port number' })
    .int('expected a whole port number')
    .min(0, 'expected a port from 0 to 65535')
    .max(65_535, 'expected a port from 0 to 65535')
    .default(fallback)

const millis = z.coerce
  .number({ error: 'expected milliseconds' })
  .int('expected whole milliseconds')
  .min(0, 'expected milliseconds ≥ 0')
const ms = (fallback: number) => millis.default(fallback)

const flag = z
  .enum(['0', '1', 'true', 'false'], { error: 'expected 1, 0, true or false' })
  .default('0')
  .transform((v) => v === '1' || v === 'true')

const httpUrl = z
  .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' })
  .optional()

/**
 * The environment the app reads, validated at start. Every variable is optional; the
 * defaults run everything on 127.0.0.1 with an embedded database (the app README's
 * table mirrors this schema).
 */
const EnvSchema = z.object({
  SERVICE: z
    .enum([...SERVICES, 'all'], { error: `expected one of ${[...SERVICES, 'all'].join(', ')}` })
    .default('all'),
  HOST: z.string().min(1, 'expected an interface to bind').default('127.0.0.1'),
  GATEWAY_PORT: port(3000),
  USERS_PORT: port(3001),
  PAYMENTS_PORT: port(3002),
  DELIVERY_PORT: port(3003),
  METRICS_PORT: port(9090),
  USERS_URL: httpUrl,
  PAYMENTS_URL: httpUrl,
  DELIVERY_URL: httpUrl,
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' })
    .optional(),
  PGLITE_DATA_DIR: z.string().min(1).optional(),
  REDIS_URL: z
    // `hostname`: `redis:6379` parses as a URL too (scheme `redis`, no host).
    .url({ protocol: /^rediss?$/, hostname: /./, error: 'expected a redis:// or rediss:// URL' })
    .optional(),
  REQUEST_BUDGET_MS: ms(2000),
  ORDER_DEADLINE_MS: ms(5000),
  BREAKER_OPEN_MS: ms(5000),
  SLOW_TRACE_MS: ms(250),
  RATE_LIMIT_PER_MINUTE: z.coerce
    .number({ error: 'expected a whole number of requests' })
    .int('expected a whole number of requests')
    .min(0, 'expected 0 (off) or more')
    .default(600),
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const trust = parseTrustProxy(text)
      try {
        clientIp({ trustProxy: trust })
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a number of proxies or a comma-separated list of addresses / CIDR ranges: ${(error as Error).message}`,
        })
        return z.NEVER
      }
      return trust
    }),
  DRAIN_DELAY_MS: millis.optional(),
  CHAOS_ADMIN: flag,
  CHAOS_TOKEN: z.string().min(8, 'expected at least 8 characters').optional(),
  LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
      error: 'expected trace, debug, info, warn, error, fatal or silent',
    })
    .default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty'], { error: 'expected json or pretty' }).optional(),
  OTEL_TRACES_EXPORTER: z
    .enum(['otlp', 'console', 'none'], { error: 'expected otlp, console or none' })
    .optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl,
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  KUBERNETES_SERVICE_HOST: z.string().optional(),
})

/** The validated configuration of one process. */
export interface Config {
  /** The services this process runs. */
  services: readonly ServiceName[]
  host: string
  ports: Record<ServiceName, number>
  metricsPort: number
  /** Where the gateway finds the other services. */
  urls: { users: string; payments: string; delivery: string }
  /** PostgreSQL (`DATABASE_URL`), else PGlite in memory or in `PGLITE_DATA_DIR`. */
  database: { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string | undefined }
  /**
   * Redis for the state gateway replicas share (`REDIS_URL`): the write rate limit and
   * the downstream breakers. Unset: both stay in this process's memory.
   */
  redisUrl: string | undefined
  requestBudgetMs: number
  orderDeadlineMs: number
  breakerOpenMs: number
  slowTraceMs: number
  /** The gateway's writes per client per minute (token bucket, burst a sixth); 0 = off. */
  rateLimitPerMinute: number
  /**
   * Proxies in front of the gateway whose `X-Forwarded-For` names the client for the
   * rate limit: how many, or their addresses / CIDR ranges; 0 = none (the socket's peer).
   */
  trustProxy: number | readonly string[]
  drainDelayMs: number
  chaos: { admin: boolean; token: string | undefined }
  log: { level: string; format: 'json' | 'pretty' }
  telemetry: { exporter: 'otlp' | 'console' | 'none'; serviceName: string | undefined }
}

/** Bad configuration: one message naming each variable that is wrong. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  /** `VARIABLE: what is wrong` lines. */
  readonly problems: readonly string[]
  constructor(problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`)
    this.problems = problems
  }
}

/**
 * Reads and validates the configuration from an environment. Throws `ConfigError`
 * naming every bad variable (and what it got) — `main` prints it and exits 1.
 * @param env the environment (`process.env`)
 * @param isTty whether stdout is a terminal (pretty logs by default)
 */
export function loadConfig(env: NodeJS.ProcessEnv, isTty = false): Config {
  // Empty strings are "not set", as in a shell's `FOO= node ...`.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''))
  const parsed = EnvSchema.safeParse(cleaned)
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '')
        const got = cleaned[name]
        return `${name}: ${issue.message}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`
      }),
    )
  }
  const e = parsed.data
  if (e.CHAOS_ADMIN && e.CHAOS_TOKEN === undefined && e.HOST !== '127.0.0.1') {
    throw new ConfigError([
      'CHAOS_TOKEN: required when CHAOS_ADMIN is on and HOST is not 127.0.0.1 (the admin changes faults)',
    ])
  }
  const local = (p: number) => `http://127.0.0.1:${p}`
  return {
    services: e.SERVICE === 'all' ? SERVICES : [e.SERVICE],
    host: e.HOST,
    ports: {
      gateway: e.GATEWAY_PORT,
      users: e.USERS_PORT,
      payments: e.PAYMENTS_PORT,
      delivery: e.DELIVERY_PORT,
    },
    metricsPort: e.METRICS_PORT,
    urls: {
      users: e.USERS_URL ?? local(e.USERS_PORT),
      payments: e.PAYMENTS_URL ?? local(e.PAYMENTS_PORT),
      delivery: e.DELIVERY_URL ?? local(e.DELIVERY_PORT),
    },
    database:
      e.DATABASE_URL === undefined
        ? { kind: 'pglite', dataDir: e.PGLITE_DATA_DIR }
        : { kind: 'postgres', url: e.DATABASE_URL },
    redisUrl: e.REDIS_URL,
    requestBudgetMs: e.REQUEST_BUDGET_MS,
    orderDeadlineMs: e.ORDER_DEADLINE_MS,
    breakerOpenMs: e.BREAKER_OPEN_MS,
    slowTraceMs: e.SLOW_TRACE_MS,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    trustProxy: e.TRUST_PROXY,
    // Kubernetes keeps routing to a pod for a few seconds after SIGTERM; a laptop does not.
    drainDelayMs: e.DRAIN_DELAY_MS ?? (e.KUBERNETES_SERVICE_HOST === undefined ? 0 : 5000),
    chaos: { admin: e.CHAOS_ADMIN, token: e.CHAOS_TOKEN },
    log: { level: e.LOG_LEVEL, format: e.LOG_FORMAT ?? (isTty ? 'pretty' : 'json') },
    telemetry: {
      exporter:
        e.OTEL_TRACES_EXPORTER ?? (e.OTEL_EXPORTER_OTLP_ENDPOINT === undefined ? 'none' : 'otlp'),
      serviceName: e.OTEL_SERVICE_NAME,
    },
  }
}

/** `TRUST_PROXY`: unset or `0` → 0, `2` → 2, `10.0.0.0/8, fd00::/8` → the list. */
function parseTrustProxy(text: string | undefined): number | string[] {
  const trimmed = text?.trim() ?? ''
  if (trimmed === '') return 0
  if (/^\d+$/.test(trimmed)) return Number(trimmed)
  return trimmed
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
}
