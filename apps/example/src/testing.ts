/**
 * Test helpers of the example app: free ports, the built app as real processes, a
 * PostgreSQL cluster of the test's own, Debian packages on demand. Every process a
 * helper starts is stopped by its PID.
 */
import type { ChildProcess } from 'node:child_process'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../../../scripts/free-port.ts'

const run = promisify(execFile)

/** The app's directory (where `dist/main.js` is built). */
export const APP_DIR: string = resolve(import.meta.dirname, '..')
/** The repository root. */
export const REPO_DIR: string = resolve(APP_DIR, '../..')

/** A free 127.0.0.1 port below the kernel's ephemeral range (see scripts/free-port.ts). */
export { freePort }

/**
 * Installs Debian packages when missing (`scripts/ensure-apt.sh`). Resolves false —
 * and the caller skips, saying why — when they cannot be installed.
 */
export async function ensureApt(...packages: string[]): Promise<boolean> {
  try {
    await run('bash', [join(REPO_DIR, 'scripts/ensure-apt.sh'), ...packages], { timeout: 600_000 })
    return true
  } catch {
    return false
  }
}

/** A running process of the built app. */
export interface AppProcess {
  pid: number
  /** Every JSON line it printed so far (stdout and stderr). */
  lines: Array<Record<string, unknown>>
  /** Lines that were not JSON (there should be none). */
  other: string[]
  child: ChildProcess
  /** Resolves with the exit code once it exits. */
  exited: Promise<number | null>
  /** Waits for a line matching `predicate` (bounded). */
  waitFor(
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  /** SIGTERM by PID, then waits for the exit (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>
}

/**
 * Starts `node dist/main.js` with `env` (over a clean base: no inherited OTEL_* or
 * DATABASE_URL), and waits for `sturdy example started`.
 */
export async function startApp(
  env: Record<string, string>,
  options: { startTimeoutMs?: number; waitStarted?: boolean } = {},
): Promise<AppProcess> {
  const base: Record<string, string> = {}
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const v = process.env[key]
    if (v !== undefined) base[key] = v
  }
  const child = spawn(process.execPath, ['--enable-source-maps', join(APP_DIR, 'dist/main.js')], {
    cwd: APP_DIR,
    env: { ...base, LOG_FORMAT: 'json', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Array<Record<string, unknown>> = []
  const other: string[] = []
  const waiters = new Set<() => void>()
  const onData = (stream: NodeJS.ReadableStream) => {
    let buffer = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      buffer += chunk
      let nl = buffer.indexOf('\n')
      while (nl >= 0) {
        const text = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (text.trim() !== '') {
          try {
            lines.push(JSON.parse(text) as Record<string, unknown>)
          } catch {
            other.push(text)
          }
        }
        nl = buffer.indexOf('\n')
      }
      for (const w of waiters) w()
    })
  }
  onData(child.stdout!)
  onData(child.stderr!)
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  )
  exited.then(() => {
    for (const w of waiters) w()
  })
  let done = false
  exited.then(() => {
    done = true
  })

  const waitFor: AppProcess['waitFor'] = (predicate, timeoutMs = 60_000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const hit = lines.find(predicate)
        if (hit !== undefined) {
          cleanup()
          resolve(hit)
        } else if (done) {
          cleanup()
          reject(new Error(`process exited before the line came; output:\n${tail(lines, other)}`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`no such line within ${timeoutMs} ms; output:\n${tail(lines, other)}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })

  const proc: AppProcess = {
    pid: child.pid!,
    lines,
    other,
    child,
    exited,
    waitFor,
    async stop(timeoutMs = 30_000) {
      if (done) return exited
      process.kill(child.pid!, 'SIGTERM')
      const timer = setTimeout(() => {
        if (!done) process.kill(child.pid!, 'SIGKILL')
      }, timeoutMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
  if (options.waitStarted !== false) {
    try {
      await waitFor((l) => l.msg === 'sturdy example started', options.startTimeoutMs ?? 120_000)
    } catch (error) {
      await proc.stop(2000)
      throw error
    }
  }
  return proc
}

function tail(lines: Array<Record<string, unknown>>, other: string[]): string {
  return [...lines.slice(-15).map((l) => JSON.stringify(l)), ...other.slice(-10)].join('\n')
}

/** A PostgreSQL cluster of the test's own, in a temp dir, on a free port. */
export interface Postgres {
  url: string
  port: number
  pid: number
  /** Stops the server by PID (fast shutdown) and waits for it. */
  stop(): Promise<void>
  /** Starts it again on the same port and data. */
  start(): Promise<void>
  /** Stops it and removes its directory. */
  destroy(): Promise<void>
}

/** The directory of Debian's PostgreSQL binaries, or undefined. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin/postgres')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin')
}

/**
 * `initdb` into a temp dir and `postgres` on a free 127.0.0.1 port, as the `postgres`
 * user when running as root (PostgreSQL refuses root). Trust authentication, loopback
 * only, nothing else on the machine touched.
 */
export async function startPostgres(): Promise<Postgres> {
  const bin = postgresBinDir()
  if (bin === undefined) throw new Error('PostgreSQL is not installed')
  const dir = mkdtempSync(join(tmpdir(), 'sturdy-pg-'))
  const data = join(dir, 'data')
  const asUser: { uid?: number; gid?: number } = {}
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres'])
    const { stdout: gid } = await run('id', ['-g', 'postgres'])
    asUser.uid = Number(stdout.trim())
    asUser.gid = Number(gid.trim())
    chownSync(dir, asUser.uid, asUser.gid)
    chmodSync(dir, 0o700)
  }
  await new Promise<void>((resolvePromise, reject) => {
    execFile(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
      { ...asUser, timeout: 120_000 },
      (error, _out, stderr) =>
        error ? reject(new Error(`initdb failed: ${stderr}`)) : resolvePromise(),
    )
  })
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-h',
        '127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'max_connections=50',
      ],
      { ...asUser, stdio: 'ignore' },
    )
    const deadline = Date.now() + 60_000
    for (;;) {
      try {
        await run(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)], {
          timeout: 5000,
        })
        return
      } catch {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error('postgres did not start')
        await new Promise((r) => setTimeout(r, 200))
      }
    }
  }
  const stop = async () => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = once(c, 'exit')
    process.kill(c.pid!, 'SIGINT') // fast shutdown: active sessions are cut
    await exited
  }
  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    get pid() {
      return child?.pid ?? -1
    },
    start,
    stop,
    async destroy() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Copies a PGlite data dir (a template made once per run), for a process's own database. */
export function copyDataDir(template: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sturdy-pglite-'))
  cpSync(template, dir, { recursive: true })
  return dir
}

/** Whether `path` exists and is a directory. */
export function isDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory()
}

/** A span as an OTLP/HTTP JSON export carries it, with its resource's service name. */
export interface ReceivedSpan {
  service: string
  name: string
  kind: number
  traceId: string
  spanId: string
  parentSpanId: string | undefined
  attributes: Record<string, unknown>
}

/** An OTLP/HTTP receiver on 127.0.0.1 (`/v1/traces`, JSON), collecting every span. */
export interface OtlpReceiver {
  endpoint: string
  spans: ReceivedSpan[]
  close(): Promise<void>
}

/** Starts an OTLP/HTTP JSON receiver: the services export their spans to it. */
export async function otlpReceiver(): Promise<OtlpReceiver> {
  const { createServer: createHttpServer } = await import('node:http')
  const spans: ReceivedSpan[] = []
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpTraces
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '')
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                service,
                name: s.name,
                kind: s.kind,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId === '' ? undefined : s.parentSpanId,
                attributes: attrs(s.attributes),
              })
            }
          }
        }
      } catch {
        // Not JSON (a protobuf exporter): ignored; the tests configure JSON.
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}

interface OtlpValue {
  stringValue?: string
  intValue?: string | number
  boolValue?: boolean
  doubleValue?: number
}
interface OtlpTraces {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: OtlpValue }> }
    scopeSpans?: Array<{
      spans?: Array<{
        name: string
        kind: number
        traceId: string
        spanId: string
        parentSpanId?: string
        attributes?: Array<{ key: string; value: OtlpValue }>
      }>
    }>
  }>
}

function attrs(
  list: Array<{ key: string; value: OtlpValue }> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue
  }
  return out
}

/** Debian's Chromium, and the flags it needs on a machine without a network or a GPU. */
export const CHROMIUM = '/usr/bin/chromium'
/** Headless flags: no sandbox (root), no GPU, no calls home. Playwright adds a fresh profile. */
export const CHROMIUM_ARGS: string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A Prometheus server of the test's own. */
export interface PrometheusServer {
  url: string
  targets(): Promise<Array<{ health: string; lastError: string; scrapeUrl: string }>>
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>
  stop(): Promise<void>
}

/**
 * Debian's Prometheus on 127.0.0.1 with a config written here: scrapes `targets`
 * (`host:port`, path `/metrics`) every second, into a temp dir removed at `stop()`.
 */
export async function startPrometheus(targets: readonly string[]): Promise<PrometheusServer> {
  const { writeFileSync } = await import('node:fs')
  const dir = mkdtempSync(join(tmpdir(), 'sturdy-prom-'))
  const config = join(dir, 'prometheus.yml')
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 900ms',
      'scrape_configs:',
      '  - job_name: sturdy-example',
      '    static_configs:',
      `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  )
  const port = await freePort()
  const child = spawn(
    'prometheus',
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  )
  const url = `http://127.0.0.1:${port}`
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`)
    const body = (await res.json()) as { data: T }
    return body.data
  }
  const exited = once(child, 'exit')
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break
    } catch {}
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error('prometheus did not start')
    await new Promise((r) => setTimeout(r, 250))
  }
  return {
    url,
    targets: async () =>
      (
        await api<{
          activeTargets: Array<{ health: string; lastError: string; scrapeUrl: string }>
        }>('/api/v1/targets')
      ).activeTargets,
    query: async (promql) =>
      (
        await api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
          `/api/v1/query?query=${encodeURIComponent(promql)}`,
        )
      ).result,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
