import { execFile } from 'node:child_process'
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { loadConfig } from '../../apps/example/src/config.ts'
import type { Postgres } from '../../apps/example/src/testing.ts'
import { startPostgres } from '../../apps/example/src/testing.ts'
import type { LocalImage } from './dockerfile.ts'
import { buildLocally, parseDockerfile } from './dockerfile.ts'
import type { Exposition } from './exposition.ts'
import { readExposition } from './exposition.ts'
import type { AppService } from './manifests.ts'
import { APP_SERVICES, containerEnv, deploymentOf, podSpecOf, render } from './manifests.ts'
import { DEPLOY_DIR, REPO_DIR } from './paths.ts'
import type { Proc, SwitchProxy } from './processes.ts'
import { freePort, grpcHealthCheck, startProcess, switchProxy } from './processes.ts'
import { allQueries, checkQueries, recordedSeries } from './queries.ts'

// The Dockerfile's steps without Docker (src/dockerfile.ts): the build stage's RUN lines
// in a copy of the context filtered by .dockerignore, the runtime stage's files put
// together — then the four services started from that directory with the environment
// the dev overlay gives their pods, probed, driven through every path that creates
// series, scraped, and drained.

const run = promisify(execFile)
const USER_SERVICE = 'sturdy.example.user.v1.UserService'
const objects = render('overlays/dev')
const base = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k]) env[k] = process.env[k]!
  return env
}

let work: string
let image: LocalImage
let appDir: string
const procs = new Map<AppService, Proc>()
const ports = {} as Record<AppService, { http: number; metrics: number }>
let envs = {} as Record<AppService, Record<string, string>>
let proxy: SwitchProxy | undefined
let postgres: Postgres | undefined

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'sturdy-image-'))
  const store = (await run('pnpm', ['store', 'path'], { cwd: REPO_DIR })).stdout.trim()
  image = await buildLocally({
    context: REPO_DIR,
    dockerfile: join(DEPLOY_DIR, 'Dockerfile'),
    work,
    // The cache mount of the pnpm store: this machine's store (pnpm adds the v10/).
    caches: { 'pnpm-store': dirname(store) },
    env: base(),
    skip: (command) =>
      /^npm install --global .*pnpm@/.test(command)
        ? 'the pnpm of packageManager is already on this machine (checked below)'
        : undefined,
  })
  appDir = join(image.root, image.workdir)
}, 900_000)

afterAll(async () => {
  await Promise.all([...procs.values()].map((p) => p.stop(5000)))
  await proxy?.close()
  await postgres?.destroy()
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
})

/** Bytes (apparent size) and files below `dir`, symlinks not followed. */
function sizeOf(dir: string): { bytes: number; files: number } {
  let bytes = 0
  let files = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const st = lstatSync(join(entry.parentPath, entry.name))
    if (st.isFile()) {
      bytes += st.size
      files++
    }
  }
  return { bytes, files }
}

/** Runs the image's HEALTHCHECK command; resolves with its exit code and output. */
async function healthcheck(env: Record<string, string>): Promise<{ code: number; out: string }> {
  const [cmd, ...args] = image.healthcheck!.cmd
  try {
    const r = await run(cmd === 'node' ? process.execPath : cmd!, args, {
      cwd: appDir,
      // A loaded machine must not fail it: the 2 s default is Docker's business.
      env: { ...env, HEALTHCHECK_TIMEOUT_MS: '20000' },
      timeout: 30_000,
    })
    return { code: 0, out: r.stdout + r.stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; signal?: string }
    return { code: e.code ?? 1, out: `${e.signal ?? ''} ${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

async function scrape(service: AppService): Promise<string> {
  return (await fetch(`http://127.0.0.1:${ports[service].metrics}/metrics`)).text()
}

describe('the image, built without Docker', () => {
  it('takes pnpm from package.json, and only the global pnpm install is not run here', async () => {
    const packageManager = (
      JSON.parse(readFileSync(join(REPO_DIR, 'package.json'), 'utf8')) as { packageManager: string }
    ).packageManager
    const file = parseDockerfile(readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8'))
    expect(`pnpm@${file.globalArgs.PNPM_VERSION}`).toBe(packageManager)
    expect((await run('pnpm', ['--version'])).stdout.trim()).toBe(file.globalArgs.PNPM_VERSION)
    expect(image.skipped.map((s) => s.command)).toEqual([
      'npm install --global --no-fund --no-audit pnpm@10.34.9',
    ])
  })

  it('holds built JavaScript and production dependencies only (size reported)', () => {
    expect(readdirSync(appDir).sort()).toEqual([
      'dist',
      'healthcheck.mjs',
      'node_modules',
      'package.json',
    ])
    expect(readdirSync(join(appDir, 'dist'))).toContain('main.js')
    const modules = readdirSync(join(appDir, 'node_modules'))
    for (const dev of ['playwright-core', '@types', 'typescript', 'vitest', 'tsdown', '@biomejs']) {
      expect(modules).not.toContain(dev)
    }
    const total = sizeOf(appDir)
    const deps = sizeOf(join(appDir, 'node_modules'))
    const dist = sizeOf(join(appDir, 'dist'))
    const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`
    console.log(
      `image contents (/app, on top of the node base image): ${mb(total.bytes)} in ${total.files} files — node_modules ${mb(deps.bytes)} (${deps.files} files), dist ${mb(dist.bytes)}`,
    )
    expect(total.bytes).toBeLessThan(150 * 1024 * 1024)
  }, 60_000)

  it('runs as a non-root user, with a HEALTHCHECK, exposing the ports the manifests use', () => {
    expect(image.user).toBe('1000:1000')
    expect(image.cmd).toEqual(['node', '--enable-source-maps', 'dist/main.js'])
    expect(image.healthcheck?.cmd).toEqual(['node', 'healthcheck.mjs'])
    expect(image.stopSignal).toBe('SIGTERM')
    const used = APP_SERVICES.flatMap((s) =>
      (podSpecOf(deploymentOf(objects, s)).containers[0]!.ports ?? []).map((p) => p.containerPort),
    )
    expect([...new Set(used)].sort()).toEqual([...image.expose].sort())
    // Each pod runs as the image's user.
    for (const s of APP_SERVICES) {
      expect(podSpecOf(deploymentOf(objects, s)).securityContext).toMatchObject({
        runAsUser: 1000,
        runAsGroup: 1000,
      })
    }
  })

  it('the HEALTHCHECK knows the app’s default ports', () => {
    const defaults = loadConfig({}).ports
    const script = readFileSync(join(appDir, 'healthcheck.mjs'), 'utf8')
    for (const s of APP_SERVICES) {
      expect(script).toMatch(new RegExp(`${s}: \\['${s.toUpperCase()}_PORT', ${defaults[s]}\\]`))
    }
  })
})

describe('the services, started from the image with their pods’ environment', () => {
  it('each answers /readyz and /healthz (users: gRPC health), passes the HEALTHCHECK, and states its drain bound', async () => {
    for (const s of APP_SERVICES) ports[s] = { http: await freePort(), metrics: await freePort() }
    let database = ''
    if (inject('postgresql')) {
      postgres = await startPostgres()
      database = postgres.url
    } else {
      // Not a skip: the services still run, on the app's embedded PGlite instead.
      console.warn(
        "Debian's postgresql package could not be installed: gateway and users run on PGlite (in memory) instead of PostgreSQL",
      )
    }
    const users = `http://127.0.0.1:${ports.users.http}`
    proxy = await switchProxy(users)
    envs = {} as typeof envs
    for (const s of APP_SERVICES) {
      const { env } = containerEnv(objects, podSpecOf(deploymentOf(objects, s)).containers[0]!)
      envs[s] = {
        ...base(),
        ...image.env,
        ...env,
        // What differs from a pod: loopback and free ports, no in-cluster names, a
        // PostgreSQL of the test's own for the dev overlay's in-cluster one (both
        // services on one database, as there), no collector to export to.
        HOST: '127.0.0.1',
        [`${s.toUpperCase()}_PORT`]: String(ports[s].http),
        METRICS_PORT: String(ports[s].metrics),
        USERS_URL: proxy.url,
        PAYMENTS_URL: `http://127.0.0.1:${ports.payments.http}`,
        DELIVERY_URL: `http://127.0.0.1:${ports.delivery.http}`,
        OTEL_TRACES_EXPORTER: 'none',
        DATABASE_URL: database,
      }
      delete envs[s].OTEL_EXPORTER_OTLP_ENDPOINT
    }
    const command = image.cmd.map((c) => (c === 'node' ? process.execPath : c))
    for (const s of APP_SERVICES) procs.set(s, startProcess(command, appDir, envs[s]))
    for (const s of APP_SERVICES) {
      await procs.get(s)!.waitFor((l) => l.msg === 'sturdy example started', 180_000)
    }
    for (const s of APP_SERVICES) {
      if (s === 'users') {
        // What the pod's gRPC probes ask (SERVING is 1).
        expect(await grpcHealthCheck(ports.users.http, ''), 'users readiness').toEqual({
          status: 1,
        })
        expect(await grpcHealthCheck(ports.users.http, USER_SERVICE), 'users liveness').toEqual({
          status: 1,
        })
        expect(await grpcHealthCheck(ports.users.http, 'no.such.Service')).toEqual({ error: '5' })
      } else {
        const url = `http://127.0.0.1:${ports[s].http}`
        expect((await fetch(`${url}/readyz`)).status, `${s} /readyz`).toBe(200)
        expect((await fetch(`${url}/healthz`)).status, `${s} /healthz`).toBe(200)
      }
      const check = await healthcheck(envs[s])
      expect(check.code, `${s} HEALTHCHECK: ${check.out}`).toBe(0)
    }
  }, 300_000)

  it('terminationGracePeriodSeconds = ceil(drain bound / 1000) + 1, the bound read from each running service', async () => {
    const found: Record<string, number | undefined> = {}
    const wanted: Record<string, number> = {}
    for (const s of APP_SERVICES) {
      const line = await procs.get(s)!.waitFor((l) => l.msg === 'metrics listening')
      const boundMs = Number(line.drain_bound_ms)
      expect(boundMs).toBeGreaterThan(Number(envs[s].DRAIN_DELAY_MS))
      found[s] = podSpecOf(deploymentOf(objects, s)).terminationGracePeriodSeconds
      wanted[s] = Math.ceil(boundMs / 1000) + 1
    }
    expect(found).toEqual(wanted)
  })

  it('every metric and label in the rules, dashboard and adapter is one the services export', async () => {
    const G = `http://127.0.0.1:${ports.gateway.http}`
    const json = { 'content-type': 'application/json' }
    const order = {
      userId: '1',
      items: [{ sku: 'BOOK-1', quantity: 1, priceCents: 1250 }],
      address: { street: '1 Main St', city: 'London', country: 'GB' },
    }
    // Every route and status class the services answer.
    for (let i = 0; i < 5; i++) expect((await fetch(`${G}/users/1`)).status).toBe(200)
    expect((await fetch(`${G}/users/abc`)).status).toBe(400)
    expect((await fetch(`${G}/nothing-here`)).status).toBe(404)
    const created = await fetch(`${G}/users`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ name: 'Grace Hopper', email: `grace-${Date.now()}@example.com` }),
    })
    expect(created.status).toBe(201)
    const ordered = await fetch(`${G}/orders`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(order),
    })
    expect(ordered.status).toBe(201)
    // A deadline passes while the users service is slow: 504, a timeout counted.
    proxy!.mode = 'slow'
    const late = await fetch(`${G}/users/1`, { headers: { 'x-request-timeout-ms': '300' } })
    expect(late.status).toBe(504)
    // Every other call fails: retries absorb it until the retry budget refuses them.
    proxy!.mode = 'flaky'
    const exhausted = () =>
      scrape('gateway').then((t) => /^sturdy_retry_budget_exhausted_total\{/m.test(t))
    for (let round = 0; round < 40 && !(await exhausted()); round++) {
      await Promise.all(
        Array.from({ length: 20 }, () => fetch(`${G}/users/1`).then((r) => r.arrayBuffer())),
      )
    }
    expect(await exhausted()).toBe(true)
    // The users service goes down: the breaker opens and the gateway fails fast (503).
    proxy!.mode = 'down'
    let failedFast = false
    for (let i = 0; i < 40 && !failedFast; i++) {
      const res = await fetch(`${G}/users/1`)
      await res.arrayBuffer()
      failedFast =
        res.status === 503 && /^sturdy_breaker_state\{[^}]*\} 2$/m.test(await scrape('gateway'))
    }
    expect(failedFast).toBe(true)
    proxy!.mode = 'pass'
    // The breaker closes again after BREAKER_OPEN_MS (a trial call succeeds).
    let closed = false
    for (let i = 0; i < 100 && !closed; i++) {
      closed =
        (await fetch(`${G}/users/1`).then((r) => r.arrayBuffer().then(() => r.status))) === 200
      if (!closed) await new Promise((r) => setTimeout(r, 200))
    }
    expect(closed).toBe(true)
    // Overload: users slows down, requests pile up in the gateway past its adaptive
    // concurrency limit (at least 50, 100 at first): the excess is shed at once, 503.
    proxy!.mode = 'slow'
    const burst = await Promise.all(
      Array.from({ length: 160 }, () =>
        fetch(`${G}/users/1`).then((r) => r.arrayBuffer().then(() => r.status)),
      ),
    )
    proxy!.mode = 'pass'
    expect(burst.filter((status) => status === 503).length).toBeGreaterThan(0)
    expect(await scrape('gateway')).toMatch(/^sturdy_limit_shed_total\{/m)
    // A call to users whose deadline has passed on arrival: the users server's deadline
    // counts it (sturdy_timeouts_total{name="users-deadline"}) and answers DEADLINE_EXCEEDED.
    expect(await grpcHealthCheck(ports.users.http, '', { 'grpc-timeout': '0m' })).toEqual({
      error: '4',
    })
    // Requests straight to each service, as the gateway's calls would.
    for (const s of ['payments', 'delivery'] as const) {
      await (await fetch(`http://127.0.0.1:${ports[s].http}/nothing-here`)).arrayBuffer()
    }

    const exported: Exposition = new Map()
    for (const s of APP_SERVICES) readExposition(await scrape(s), exported)
    const problems = checkQueries(allQueries(), exported, recordedSeries())
    expect(problems).toEqual([])
    // And the check can fail: a metric and a label the app does not have.
    expect(
      checkQueries(
        [
          {
            where: 'probe',
            expr: 'sum by (tenant) (rate(http_server_requests_total{path="/x"}[5m])) + sum by (tenant) (sturdy_breaker_state)',
          },
        ],
        exported,
        new Map(),
      ),
    ).toEqual([
      'probe: http_server_requests_total is not exported by the app',
      'probe: grouping label tenant is on none of http_server_requests_total',
      'probe: grouping label tenant is on none of sturdy_breaker_state',
    ])
  }, 300_000)

  it('SIGTERM: draining shows on /metrics, each exits 0 within its bound, the HEALTHCHECK then fails', async () => {
    const started = Date.now()
    for (const s of APP_SERVICES) process.kill(procs.get(s)!.pid, 'SIGTERM')
    // DRAIN_DELAY_MS (5 s from the ConfigMap): still serving, readiness failing.
    // (The signal is handled a moment after it is sent: poll, within the delay.)
    let draining = false
    let ready = 200
    for (let i = 0; i < 40 && !(draining && ready === 503); i++) {
      draining = /^sturdy_lifecycle_draining 1$/m.test(await scrape('gateway'))
      ready = (await fetch(`http://127.0.0.1:${ports.gateway.http}/readyz`)).status
      if (!(draining && ready === 503)) await new Promise((r) => setTimeout(r, 100))
    }
    expect({ draining, ready }).toEqual({ draining: true, ready: 503 })
    // users: the readiness probe fails while it drains — NOT_SERVING (2) on a connection
    // opened before, or the new stream refused (the server has sent GOAWAY).
    expect([{ status: 2 }, { error: 'ERR_HTTP2_STREAM_ERROR' }]).toContainEqual(
      await grpcHealthCheck(ports.users.http, ''),
    )
    for (const s of APP_SERVICES) {
      const p = procs.get(s)!
      expect(await p.exited, s).toBe(0)
      const summary = p.lines.find((l) => l.msg === 'shutdown complete')
      expect(summary, s).toMatchObject({ exitCode: 0, aborted: 0 })
      expect(Number(summary?.durationMs)).toBeLessThanOrEqual(Number(summary?.boundMs))
      expect(p.other, `${s}: only JSON lines`).toEqual([])
    }
    expect(Date.now() - started).toBeLessThan(60_000)
    expect((await healthcheck(envs.gateway)).code).toBe(1)
  }, 120_000)
})
