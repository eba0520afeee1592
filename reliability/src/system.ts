/**
 * The example system as four real processes (`node dist/main.js`, SERVICE=...), each on
 * its own ephemeral ports — the example's own helpers (`startApp`, `copyDataDir`,
 * `freePort`), so the suite runs what the example's tests run. Every process is stopped
 * by its PID.
 */
import { rmSync } from 'node:fs'
import type { AppProcess } from '@sturdy/example/src/testing.ts'
import { copyDataDir, freePort, startApp } from '@sturdy/example/src/testing.ts'
import type { Inspector } from './inspector.ts'
import { connectInspector } from './inspector.ts'

/** The example's services. */
export type Service = 'gateway' | 'users' | 'payments' | 'delivery'

/** A running system. */
export interface RunningSystem {
  procs: Record<Service, AppProcess>
  /** Base URL of each service (`http://127.0.0.1:port`). */
  url: Record<Service, string>
  /** Each process's metrics port. */
  metricsPort: Record<Service, number>
  /** The gateway's inspector, when `inspectGateway`. */
  inspector: Inspector | undefined
  /** The env each service was started with (to start one again). */
  env: Record<Service, Record<string, string>>
  /** The metrics text of a service. */
  metrics(service: Service): Promise<string>
  /** Sets a payments chaos control through its admin (`PUT /_chaos/<name>/<setting>/<value>`). */
  chaos(
    service: 'payments' | 'delivery',
    name: string,
    setting: string,
    value: string,
  ): Promise<void>
  /** Stops every process (SIGTERM by PID), removes the data dirs. */
  stop(): Promise<void>
}

/** Options of `startSystem`. */
export interface StartOptions {
  /** Env for every service (over the defaults here). */
  common?: Record<string, string>
  /** Env for the gateway only. */
  gateway?: Record<string, string>
  /** Start the gateway with its inspector on a loopback port (and `--expose-gc`). */
  inspectGateway?: boolean
  /**
   * A PostgreSQL for users and the gateway (`DATABASE_URL`, as in production; they
   * migrate it under an advisory lock). Without, each gets a copy of the PGlite template.
   */
  databaseUrl?: string
}

/** Chaos admin token the suite's services require. */
export const CHAOS_TOKEN = 'reliability-drill'

/** Starts users, payments, delivery and the gateway; resolves once all four are started. */
export async function startSystem(
  pgliteTemplate: string,
  options: StartOptions = {},
): Promise<RunningSystem> {
  const names: Service[] = ['gateway', 'users', 'payments', 'delivery']
  const port = {} as Record<Service, number>
  const metricsPort = {} as Record<Service, number>
  for (const n of names) {
    port[n] = await freePort()
    metricsPort[n] = await freePort()
  }
  const inspectPort = options.inspectGateway === true ? await freePort() : undefined
  const common = {
    GATEWAY_PORT: String(port.gateway),
    USERS_PORT: String(port.users),
    PAYMENTS_PORT: String(port.payments),
    DELIVERY_PORT: String(port.delivery),
    LOG_LEVEL: 'warn',
    CHAOS_ADMIN: '1',
    CHAOS_TOKEN,
    // The suite sends far more writes than a person would.
    RATE_LIMIT_PER_MINUTE: '0',
    ...options.common,
  }
  const dirs: string[] = []
  // A copy of the example's migrated template each: PGlite's initdb costs seconds of CPU.
  const dataDir = (): Record<string, string> => {
    if (options.databaseUrl !== undefined) return { DATABASE_URL: options.databaseUrl }
    const d = copyDataDir(pgliteTemplate)
    dirs.push(d)
    return { PGLITE_DATA_DIR: d }
  }
  const env: Record<Service, Record<string, string>> = {
    users: { ...common, SERVICE: 'users', METRICS_PORT: String(metricsPort.users), ...dataDir() },
    payments: { ...common, SERVICE: 'payments', METRICS_PORT: String(metricsPort.payments) },
    delivery: { ...common, SERVICE: 'delivery', METRICS_PORT: String(metricsPort.delivery) },
    gateway: {
      ...common,
      SERVICE: 'gateway',
      METRICS_PORT: String(metricsPort.gateway),
      ...dataDir(),
      ...(inspectPort === undefined
        ? {}
        : { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort} --expose-gc --trace-warnings` }),
      ...options.gateway,
    },
  }
  const procs = {} as Record<Service, AppProcess>
  const started = await Promise.allSettled(
    (['users', 'payments', 'delivery', 'gateway'] as const).map(async (s) => {
      // At LOG_LEVEL=warn there is no "started" line: a process is up once its metrics
      // server (started last) answers.
      procs[s] = await startApp(env[s], { waitStarted: false })
      await untilAnswers(`http://127.0.0.1:${metricsPort[s]}/metrics`, procs[s])
    }),
  )
  const failed = started.find((r) => r.status === 'rejected')
  if (failed !== undefined) {
    await Promise.all(Object.values(procs).map((p) => p.stop(5000)))
    throw (failed as PromiseRejectedResult).reason
  }
  const url = Object.fromEntries(names.map((n) => [n, `http://127.0.0.1:${port[n]}`])) as Record<
    Service,
    string
  >
  const inspector = inspectPort === undefined ? undefined : await connectInspector(inspectPort)
  return {
    procs,
    url,
    metricsPort,
    inspector,
    env,
    metrics: async (s) => (await fetch(`http://127.0.0.1:${metricsPort[s]}/metrics`)).text(),
    async chaos(service, name, setting, value) {
      const res = await fetch(`${url[service]}/_chaos/${name}/${setting}/${value}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${CHAOS_TOKEN}` },
      })
      if (res.status !== 200) throw new Error(`chaos admin: ${res.status} ${await res.text()}`)
    },
    async stop() {
      inspector?.close()
      await Promise.all(Object.values(procs).map((p) => p.stop(15_000)))
      for (const d of dirs) rmSync(d, { recursive: true, force: true })
    },
  }
}

/** Polls `url` until it answers 200 (bounded: 120 s, or the process exiting). */
export async function untilAnswers(url: string, proc: AppProcess): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await res.arrayBuffer()
      if (res.status === 200) return
    } catch {}
    if (proc.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `${url} did not answer; output:\n${[...proc.lines.map((l) => JSON.stringify(l)), ...proc.other].slice(-15).join('\n')}`,
      )
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Sums every sample of `metric` (optionally only lines matching `filter`) in a metrics text. */
export function sumMetric(text: string, metric: string, filter?: RegExp): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric) || (filter !== undefined && !filter.test(line))) continue
    const rest = line.slice(metric.length)
    if (rest[0] !== '{' && rest[0] !== ' ') continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

/** Number of series (sample lines) in a metrics text. */
export function seriesCount(text: string): number {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length
}

/**
 * What a process printed that signals trouble: Node's warnings (MaxListenersExceeded...),
 * unhandled rejections and uncaught exceptions (stderr, not JSON), fatal log lines, and
 * log lines that say unhandled or uncaught.
 */
export function troubleLines(proc: AppProcess): string[] {
  return [
    ...proc.other.filter((l) => /warning|unhandled|uncaught|error/i.test(l)),
    ...proc.lines
      .filter((l) => Number(l.level) >= 60 || /unhandled|uncaught/i.test(String(l.msg)))
      .map((l) => JSON.stringify(l)),
  ]
}
