/**
 * The overload part: a handler of known cost (1 ms of CPU around a 2 ms awaited wait) on
 * Hono, offered 2× its measured capacity by an open-loop generator for 30 s, without and
 * with `@sturdy/limit`'s adaptive `concurrencyLimit()`. Rounds interleave the two, each
 * run on a fresh server process. Figures: goodput (answers within the caller's deadline,
 * per second, as a fraction of capacity), p99 of admitted requests against the same
 * server's unloaded p99, how fast shed requests are answered, and health probes shed.
 */
import { execFileSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { BUILD_DIR } from '../build.ts'
import { type Child, startChild } from '../child.ts'
import { profileOf } from '../config.ts'
import { available, type PartContext, rotate, type Unmeasured } from './context.ts'

/**
 * The servers compared: Hono alone, the limit at its defaults, the limit with the
 * throughput cap for handlers whose CPU runs on the event loop (this one's does), and the
 * same with its refusals answered at the `node:http` listener (`shedEarly()`).
 */
export const OVERLOAD_VARIANTS: readonly { name: string; label: string }[] = [
  { name: 'none', label: 'no limit (Hono alone)' },
  { name: 'limit', label: '@sturdy/limit concurrencyLimit() (defaults)' },
  {
    name: 'capped',
    label:
      '@sturdy/limit concurrencyLimit({ limit: gradientLimit({ throughputCap: 1.4, initialLimit: 4 }) })',
  },
  {
    name: 'capped-early',
    label: 'the same, and shedEarly(limit, listener) (@sturdy/limit/node) in front of Hono',
  },
]

/**
 * `BENCH_OVERLOAD_LIMIT=<n>`: the `limit` server becomes a fixed bulkhead of n
 * (`concurrencyLimit({ limit: n })`) — to compare the adaptive default with what a
 * well-chosen number does on the same machine. Unset: the defaults.
 * @returns n, or undefined when unset
 * @throws RangeError when set to anything but a positive integer
 */
export function fixedOverloadLimit(
  env: Readonly<Record<string, string | undefined>>,
): number | undefined {
  const raw = env.BENCH_OVERLOAD_LIMIT
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`BENCH_OVERLOAD_LIMIT must be a positive integer, got ${raw}`)
  }
  return n
}

function variantsOf(fixed: number | undefined): readonly { name: string; label: string }[] {
  if (fixed === undefined) return OVERLOAD_VARIANTS
  return OVERLOAD_VARIANTS.map((v) =>
    v.name === 'limit'
      ? { name: v.name, label: `@sturdy/limit concurrencyLimit({ limit: ${fixed} })` }
      : v,
  )
}

/** What one second of a run looked like, from the caller's side. */
export interface OverloadSecond {
  readonly ok: number
  readonly shed: number
  readonly timeouts: number
  readonly other: number
  /** p99 of the answers within the deadline, ms (NaN when none). */
  readonly okP99Ms: number
}

/** One 30 s run of one variant. */
export interface OverloadRun {
  readonly round: number
  /** Answers within the deadline per second, over the whole run. */
  readonly goodputPerSec: number
  /** `goodputPerSec` / capacity. */
  readonly goodputFraction: number
  readonly admittedP50Ms: number
  readonly admittedP99Ms: number
  /** p99 of admitted requests after the first 5 s (the limit has settled). */
  readonly admittedP99SteadyMs: number
  readonly shedPerSec: number
  readonly shedP50Ms: number
  readonly shedP99Ms: number
  readonly timeouts: number
  readonly other: number
  /** ms from the start of the load to the first shed request (server side). */
  readonly firstShedMs: number | null
  readonly healthNotOk: number
  readonly healthOk: number
  /** The generator's worst lateness in sending (a check on the generator itself). */
  readonly maxSendLagMs: number
  /** The machine's 1-minute load average at the end of the run (2 cores: above 2, others were busy). */
  readonly loadavg1: number
  /** The capacity this run was offered twice of (its round's). */
  readonly capacityPerSec: number
  /** Unloaded figures of this server, from its warm-up at a quarter of capacity. */
  readonly unloadedP50Ms: number
  readonly unloadedP99Ms: number
  readonly seconds: readonly OverloadSecond[]
  readonly server: readonly {
    t: number
    limit: number
    inflight: number
    eldP99Ms: number
    shed: number
  }[]
}

export interface OverloadResults {
  readonly runtime: string
  readonly settings: {
    /** The niceness the server and generator ran at (0: the machine's default). */
    readonly nice?: number
    readonly cpuMs: number
    readonly ioMs: number
    readonly seconds: number
    readonly factor: number
    readonly timeoutMs: number
    readonly rounds: number
  }
  /** Closed-loop throughput of the bare server, 32 requests in flight (median of the rounds'). */
  readonly capacityPerSec: number
  /** The capacity measured before each round; a round's runs are offered twice its own. */
  readonly capacities: readonly number[]
  readonly variants: Record<
    string,
    { label: string; runs: OverloadRun[] } | (Unmeasured & { label: string })
  >
  /** The middleware's own cost per shed request, measured in-process. */
  readonly shedCost?: { nsPerShed: number; bytesPerShed: number }
}

interface Done {
  type: 'done'
  reqPerSec?: number
  maxSendLagMs: number
  health: { ok: number; notOk: number }
  perSecond: {
    ok: number
    okLatencies: number[]
    shed: number
    shedLatencies: number[]
    timeouts: number
    other: number
  }[]
}

const CPU_MS = 1
const IO_MS = 2
const FACTOR = 2
const TIMEOUT_MS = 1000

/** Runs the overload part (Node 20 only: the question is behaviour, not runtime speed). */
export async function runOverload(ctx: PartContext): Promise<OverloadResults | Unmeasured> {
  const [runtime] = available(ctx, ['node20'])
  if (runtime === undefined) return { status: 'null', reason: 'Node 20 not found' }
  const full = profileOf(ctx.config) === 'full'
  const seconds = full ? 30 : Math.max(3, ctx.config.durationSec)
  const rounds = full ? 2 : ctx.config.rounds
  const warmSeconds = full ? 4 : 2
  const { config, log } = ctx
  const fixed = fixedOverloadLimit(process.env)
  const serverVariants = variantsOf(fixed)

  // The question is how a server behaves under the overload this part makes, not under
  // whatever else the shared machine runs: when it may (root), it runs its server and
  // generator at a higher priority (BENCH_OVERLOAD_NICE, default -10; 0 turns it off).
  const niceness = Number(process.env.BENCH_OVERLOAD_NICE ?? -10)
  const useNice = niceness !== 0 && process.getuid?.() === 0 && canNice()
  const start = (file: string, cpu: string, env: Record<string, string>, flags: string[] = []) =>
    useNice
      ? startChild('nice', file, cpu, env, ['-n', String(niceness), runtime.node, ...flags])
      : startChild(runtime.node, file, cpu, env, flags)
  if (useNice) log(`overload: server and generator run at nice ${niceness}`)
  const server = (variant: string): Child =>
    start(
      join(BUILD_DIR, 'overload-server.mjs'),
      config.serverCpu,
      {
        BENCH_VARIANT: variant,
        BENCH_CPU_MS: String(CPU_MS),
        BENCH_IO_MS: String(IO_MS),
        ...(fixed === undefined ? {} : { BENCH_OVERLOAD_LIMIT: String(fixed) }),
      },
      ['--expose-gc'],
    )
  const load = async (port: number, env: Record<string, string>, sec: number): Promise<Done> => {
    const worker = start(join(BUILD_DIR, 'overload-load.mjs'), config.loadCpu, {
      BENCH_URL: `http://127.0.0.1:${port}`,
      BENCH_SECONDS: String(sec),
      BENCH_TIMEOUT_MS: String(TIMEOUT_MS),
      ...env,
    })
    try {
      return await worker.next<Done>('done', sec * 1000 + 60_000)
    } finally {
      await worker.stop()
    }
  }

  // Capacity: the bare server, closed loop, 32 in flight (the first 2 s warm the JIT),
  // measured again before every round so that the offered load and the goodput share
  // follow what the machine gives the server right now (it is shared).
  const capacity = async (): Promise<number> => {
    const bare = server('none')
    try {
      const ready = await bare.next<{ type: 'ready'; port: number }>('ready')
      const closed = { BENCH_MODE: 'closed', BENCH_CONNECTIONS: '32', BENCH_HEALTH_RATE: '0' }
      await load(ready.port, closed, 2)
      return (await load(ready.port, closed, full ? 5 : 2)).reqPerSec ?? Number.NaN
    } finally {
      await bare.stop()
    }
  }
  const capacities: number[] = []

  const variants: OverloadResults['variants'] = {}
  let shedCost: OverloadResults['shedCost']
  for (let round = 0; round < rounds; round++) {
    const capacityPerSec = await capacity()
    capacities.push(capacityPerSec)
    log(
      `overload round ${round + 1}: capacity ${capacityPerSec.toFixed(0)} req/s (closed loop, 32 in flight)`,
    )
    if (!(capacityPerSec > 0)) return { status: 'null', reason: 'capacity could not be measured' }
    for (const v of rotate(serverVariants, round)) {
      const child = server(v.name)
      try {
        const ready = await child.next<{
          type: 'ready'
          port: number
          missing: string[]
          stack: string[]
        }>('ready')
        if (v.name !== 'none' && ready.stack.length === 0) {
          variants[v.name] = { status: 'null', label: v.label, reason: ready.missing.join('; ') }
          continue
        }
        const warm = await load(
          ready.port,
          { BENCH_RATE: String(Math.round(capacityPerSec / 4)), BENCH_HEALTH_RATE: '0' },
          warmSeconds,
        )
        const warmLatencies = warm.perSecond.slice(1).flatMap((s) => s.okLatencies)
        await child.ask({ type: 'reset' }, 'reset')
        const done = await load(
          ready.port,
          { BENCH_RATE: String(Math.round(capacityPerSec * FACTOR)), BENCH_HEALTH_RATE: '20' },
          seconds,
        )
        const timeline = await child.ask<{ type: 'timeline'; points: OverloadRun['server'] }>(
          { type: 'timeline' },
          'timeline',
        )
        if (v.name === 'limit' && shedCost === undefined) {
          const cost = await child.ask<{
            type: 'shed-cost'
            nsPerShed: number
            bytesPerShed: number
          }>({ type: 'shed-cost' }, 'shed-cost', 60_000)
          shedCost = { nsPerShed: cost.nsPerShed, bytesPerShed: cost.bytesPerShed }
        }
        const run = figures(done, timeline.points, warmLatencies, round, seconds, capacityPerSec)
        const entry = variants[v.name]
        if (entry === undefined || 'status' in entry)
          variants[v.name] = { label: v.label, runs: [run] }
        else entry.runs.push(run)
        log(
          `overload ${v.name} round ${round + 1}: goodput ${(run.goodputFraction * 100).toFixed(0)}% of capacity, admitted p99 ${run.admittedP99Ms.toFixed(1)} ms (unloaded ${run.unloadedP99Ms.toFixed(1)}), shed ${run.shedPerSec.toFixed(0)}/s p99 ${run.shedP99Ms.toFixed(1)} ms, timeouts ${run.timeouts}, health not ok ${run.healthNotOk}, load average ${run.loadavg1}`,
        )
      } finally {
        await child.stop()
      }
    }
  }
  return {
    runtime: runtime.version,
    settings: {
      nice: useNice ? niceness : 0,
      cpuMs: CPU_MS,
      ioMs: IO_MS,
      seconds,
      factor: FACTOR,
      timeoutMs: TIMEOUT_MS,
      rounds,
    },
    capacityPerSec: capacities.sort((a, b) => a - b)[
      Math.floor((capacities.length - 1) / 2)
    ] as number,
    capacities,
    variants,
    shedCost,
  }
}

function figures(
  done: Done,
  server: OverloadRun['server'],
  warmLatencies: number[],
  round: number,
  seconds: number,
  capacity: number,
): OverloadRun {
  const secs = done.perSecond.slice(0, seconds)
  const sum = (f: (s: Done['perSecond'][number]) => number): number =>
    secs.reduce((a, s) => a + f(s), 0)
  const ok = secs.flatMap((s) => s.okLatencies)
  const steady = secs.slice(5).flatMap((s) => s.okLatencies)
  const shed = secs.flatMap((s) => s.shedLatencies)
  const firstShed = server.find((p) => p.shed > 0)
  return {
    round,
    goodputPerSec: sum((s) => s.ok) / seconds,
    goodputFraction: sum((s) => s.ok) / seconds / capacity,
    admittedP50Ms: quantile(ok, 0.5),
    admittedP99Ms: quantile(ok, 0.99),
    admittedP99SteadyMs: quantile(steady, 0.99),
    shedPerSec: sum((s) => s.shed) / seconds,
    shedP50Ms: quantile(shed, 0.5),
    shedP99Ms: quantile(shed, 0.99),
    timeouts: sum((s) => s.timeouts),
    other: sum((s) => s.other),
    firstShedMs: firstShed === undefined ? null : firstShed.t,
    healthOk: done.health.ok,
    healthNotOk: done.health.notOk,
    maxSendLagMs: done.maxSendLagMs,
    loadavg1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    capacityPerSec: capacity,
    unloadedP50Ms: quantile(warmLatencies, 0.5),
    unloadedP99Ms: quantile(warmLatencies, 0.99),
    seconds: secs.map((s) => ({
      ok: s.ok,
      shed: s.shed,
      timeouts: s.timeouts,
      other: s.other,
      okP99Ms: quantile(s.okLatencies, 0.99),
    })),
    server,
  }
}

function canNice(): boolean {
  try {
    execFileSync('nice', ['-n', '-1', 'true'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The q-quantile (nearest rank), NaN for no samples. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  ] as number
}
