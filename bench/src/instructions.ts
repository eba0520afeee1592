/**
 * `pnpm bench instructions [contender...]`: instructions executed per request (HTTP
 * contenders) or per call (policy contenders), counted by valgrind's callgrind.
 *
 * Why: req/s and wall-clock ns/op move with whatever else the machine runs; the number of
 * instructions a given binary executes for a given input does not. On a shared machine
 * this is the figure to accept or revert a change by (bench/README.md, "Accepting
 * a change"). It does not see cache misses or stalls, so it complements, never replaces, the
 * timed run.
 *
 * How: each contender's bundled server (or policy worker) starts under
 * `valgrind --tool=callgrind --instr-atstart=no`, so nothing is counted while it starts
 * and warms up (`--warm` requests or calls, JIT-compiled as in a real run). Then
 * `callgrind_control -i on` turns counting on, exactly `--requests` requests are sent
 * (from this process, outside valgrind, with `--concurrency` in flight on keep-alive
 * connections) or `--requests` calls are run, and `callgrind_control -d` dumps the
 * count. Every thread of the process is counted (V8's compiler and GC helpers too).
 */
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { setPriority, tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BENCH_DIR, BUILD_DIR } from './build.ts'
import type { RuntimeName } from './config.ts'
import type { PartContext } from './parts/context.ts'
import { HTTP_CONTENDERS } from './parts/http.ts'
import { type PolicyPath, parsePolicyName } from './parts/policies.ts'

const exec = promisify(execFile)

/** The settings of an instruction count, from flags after `instructions`. */
export interface InstructionSettings {
  /** Requests (HTTP) or calls (policies) counted. */
  readonly requests: number
  /** Requests or calls before counting starts. */
  readonly warm: number
  /** HTTP requests in flight. */
  readonly concurrency: number
  /** Contenders counted at once (each is its own valgrind process). */
  readonly parallel: number
}

export const INSTRUCTION_DEFAULTS: InstructionSettings = {
  requests: 1000,
  warm: 2000,
  concurrency: 4,
  parallel: 2,
}

/** The contenders `pnpm bench instructions` counts when none are named. */
export const DEFAULT_INSTRUCTION_CONTENDERS: readonly string[] = [
  'bare-node',
  'bare-hono',
  'sturdy-hono-stack',
  'anchor-hono-stack',
  'node-stack',
  'hono-handwritten-stack',
  'sturdy-hono-deadline',
  'anchor-hono-deadline',
  'sturdy-hono-metrics',
  'anchor-hono-metrics',
  'sturdy-hono-logger',
  'anchor-hono-logger',
  'sturdy-hono-tracing',
  'anchor-hono-tracing',
  'express-sturdy',
  'express-anchor-stack',
  'fastify-sturdy',
  'fastify-anchor-stack',
  'policy:sturdy-composed',
  'policy:opossum-fire',
  'policy:cockatiel-wrap',
  'policy:sturdy-breaker:open',
  'policy:opossum-fire:open',
  'policy:cockatiel-breaker:open',
]

/** One count. */
export interface InstructionCount {
  readonly contender: string
  readonly runtime: string
  /** Instructions per request (HTTP) or per call (policies). */
  readonly perOp: number
  readonly ops: number
  /** HTTP only: requests that failed during the counted window (retried, not counted). */
  readonly errors: number
}

/** Parses `--requests N --warm N --concurrency N --parallel N` (the rest is left alone). */
export function parseInstructionArgs(args: readonly string[]): {
  settings: InstructionSettings
  names: string[]
  rest: string[]
} {
  const settings: Record<string, number> = { ...INSTRUCTION_DEFAULTS }
  const names: string[] = []
  const rest: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const key = arg.startsWith('--') ? arg.slice(2) : undefined
    if (key !== undefined && key in INSTRUCTION_DEFAULTS) {
      const n = Number(args[++i])
      if (!Number.isInteger(n) || n <= 0) throw new Error(`--${key} needs a positive integer`)
      settings[key] = n
    } else if (key !== undefined) {
      rest.push(arg, args[++i] as string)
    } else {
      names.push(arg)
    }
  }
  return { settings: settings as unknown as InstructionSettings, names, rest }
}

/** Counts every named contender on every configured runtime; writes results/instructions.json. */
export async function runInstructions(
  ctx: PartContext,
  names: readonly string[],
  settings: InstructionSettings,
): Promise<InstructionCount[]> {
  const wanted = names.length > 0 ? names : DEFAULT_INSTRUCTION_CONTENDERS
  for (const name of wanted) parseContender(name) // fail fast on a typo
  const jobs: { name: string; runtime: RuntimeName; node: string }[] = []
  for (const runtime of ctx.config.runtimes) {
    const rt = ctx.runtimes[runtime]
    if (!('node' in rt)) {
      ctx.log(`instructions ${runtime}: skipped (${rt.reason})`)
      continue
    }
    for (const name of wanted) jobs.push({ name, runtime, node: rt.node })
  }
  const out: InstructionCount[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++] as (typeof jobs)[number]
      try {
        const count = await countOne(job.node, job.name, job.runtime, settings)
        out.push(count)
        ctx.log(
          `instructions ${job.runtime} ${job.name}: ${Math.round(count.perOp).toLocaleString('en')} per op (${count.ops} ops${count.errors > 0 ? `, ${count.errors} errors` : ''})`,
        )
      } catch (error) {
        ctx.log(`instructions ${job.runtime} ${job.name}: FAILED ${(error as Error).message}`)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, settings.parallel) }, worker))
  out.sort(
    (a, b) =>
      a.runtime.localeCompare(b.runtime) ||
      wanted.indexOf(a.contender) - wanted.indexOf(b.contender),
  )
  const file = join(BENCH_DIR, 'results', 'instructions.json')
  const previous = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { counts?: InstructionCount[] })
    : {}
  // Keep earlier counts of contenders not counted this time.
  const kept = (previous.counts ?? []).filter(
    (c) => !out.some((o) => o.contender === c.contender && o.runtime === c.runtime),
  )
  writeFileSync(
    file,
    `${JSON.stringify({ measuredAt: new Date().toISOString(), settings, counts: [...kept, ...out] }, null, 2)}\n`,
  )
  ctx.log(`wrote ${file}\n${renderInstructions(out)}`)
  return out
}

/** A markdown table of counts, with each HTTP count relative to bare Hono of its runtime. */
export function renderInstructions(counts: readonly InstructionCount[]): string {
  const lines = [
    '| runtime | contender | instructions / op | × bare Hono (inverse) |',
    '|---|---|---|---|',
  ]
  for (const c of counts) {
    const bare = counts.find((b) => b.runtime === c.runtime && b.contender === 'bare-hono')
    const rel =
      bare === undefined || c.contender.startsWith('policy:')
        ? '—'
        : (bare.perOp / c.perOp).toFixed(3)
    lines.push(
      `| ${c.runtime} | ${c.contender} | ${Math.round(c.perOp).toLocaleString('en')} | ${rel} |`,
    )
  }
  return lines.join('\n')
}

type Parsed =
  | { kind: 'http'; file: string }
  | { kind: 'policy'; file: string; contender: string; path: PolicyPath }

function parseContender(name: string): Parsed {
  const policy = parsePolicyName(name)
  if (policy !== undefined) {
    return { kind: 'policy', file: join(BUILD_DIR, 'policies.mjs'), ...policy }
  }
  if (!HTTP_CONTENDERS.some((c) => c.name === name)) {
    throw new Error(
      `unknown contender ${name}; HTTP: ${HTTP_CONTENDERS.map((c) => c.name).join(', ')}; or policy:<name>[:success|failure|open]`,
    )
  }
  return { kind: 'http', file: join(BUILD_DIR, `http-${name}.mjs`) }
}

async function countOne(
  node: string,
  name: string,
  runtime: string,
  settings: InstructionSettings,
): Promise<InstructionCount> {
  const parsed = parseContender(name)
  const dir = join(
    tmpdir(),
    `sturdy-bench-instr-${process.pid}-${runtime}-${name.replace(/\W/g, '_')}`,
  )
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'production',
    BENCH_LOG: join(dir, 'server.log'),
  }
  if (parsed.kind === 'policy') {
    env.BENCH_CONTENDER = parsed.contender
    env.BENCH_PATH = parsed.path
  }
  const proc = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      // Start uninstrumented (several times faster than counting) until `-i on`.
      '--instr-atstart=no',
      '--collect-atstart=yes',
      // V8 writes and rewrites machine code in its heap.
      '--smc-check=all-non-file',
      `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
      node,
      parsed.file,
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env },
  )
  // Counting is slow (valgrind runs the process ~50× slower): a little more of the
  // machine's share, when allowed (root), keeps a count from taking many minutes.
  try {
    if (proc.pid !== undefined) setPriority(proc.pid, -5)
  } catch {
    // not allowed: count at the default priority
  }
  let stderr = ''
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = once(proc, 'exit')
  const message = <T>(type: string, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.off('message', on)
        reject(new Error(`no '${type}' within ${timeoutMs / 1000} s\n${stderr.slice(-800)}`))
      }, timeoutMs)
      const on = (msg: { type?: string }): void => {
        if (msg.type !== type) return
        clearTimeout(timer)
        proc.off('message', on)
        resolve(msg as T)
      }
      proc.on('message', on)
      exited.then(() => {
        clearTimeout(timer)
        reject(new Error(`exited before '${type}'\n${stderr.slice(-800)}`))
      })
    })
  try {
    const ready = await message<{ port?: number; available?: boolean; missing?: string[] }>(
      'ready',
      900_000,
    )
    if (parsed.kind === 'policy' && ready.available !== true) {
      throw new Error(`not available: ${(ready.missing ?? []).join('; ')}`)
    }
    const pid = proc.pid as number
    let errors = 0
    if (parsed.kind === 'http') {
      const port = ready.port as number
      const agent = new Agent({ keepAlive: true, maxSockets: settings.concurrency })
      try {
        await drive(port, settings.warm, settings.concurrency, agent)
        await control(['-i', 'on', String(pid)])
        errors = await drive(port, settings.requests, settings.concurrency, agent)
        await control(['-i', 'off', String(pid)])
      } finally {
        agent.destroy()
      }
    } else {
      const run = async (n: number): Promise<void> => {
        const done = message<{ type: 'ran' }>('ran', 900_000)
        proc.send({ type: 'run', n })
        await done
      }
      await run(settings.warm)
      await control(['-i', 'on', String(pid)])
      await run(settings.requests)
      await control(['-i', 'off', String(pid)])
    }
    await control(['-d', String(pid)])
    const total = await readTotal(dir)
    return {
      contender: name,
      runtime,
      perOp: total / settings.requests,
      ops: settings.requests,
      errors,
    }
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await exited
    }
    // BENCH_KEEP_DUMPS=1 keeps the dump for `callgrind_annotate` (V8's C++ functions by name).
    if (process.env.BENCH_KEEP_DUMPS === '1')
      process.stderr.write(`callgrind dump kept in ${dir}\n`)
    else rmSync(dir, { recursive: true, force: true })
  }
}

async function control(args: string[]): Promise<void> {
  await exec('callgrind_control', args, { timeout: 120_000 })
}

/**
 * The instruction total of the dump `callgrind_control -d` asked for. The command returns
 * before the dump is written: wait for its last line (`totals:`).
 */
async function readTotal(dir: string): Promise<number> {
  for (let i = 0; i < 600; i++) {
    for (const f of readdirSync(dir).filter((n) => /^callgrind\.out\.\d+$/.test(n))) {
      const m = /^totals:\s+(\d+)/m.exec(readFileSync(join(dir, f), 'utf8'))
      if (m !== null) return Number(m[1])
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error('callgrind wrote no dump within 120 s')
}

/**
 * Sends exactly `n` successful GET /users/42, `concurrency` at a time on keep-alive
 * connections. A request that fails (a connection the slowed server let idle out) is
 * sent again; returns how many failed.
 */
async function drive(port: number, n: number, concurrency: number, agent: Agent): Promise<number> {
  let started = 0
  let errors = 0
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/users/42', agent, headers: { 'user-agent': 'bench' } },
        (res) => {
          res.resume()
          res.on('end', () => {
            if (res.statusCode !== 200) errors++
            resolve()
          })
          res.on('error', () => {
            errors++
            resolve()
          })
        },
      )
      req.on('error', () => {
        errors++
        started-- // send it again
        resolve()
      })
      req.end()
    })
  const lane = async (): Promise<void> => {
    while (started < n) {
      started++
      await one()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return errors
}
