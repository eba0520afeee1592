/**
 * `pnpm bench [part...] [flags]`: builds the contenders, runs the parts asked for (all by
 * default), merges them into results/latest.json (parts not run keep their previous
 * record, stamped with its own time), and regenerates the table and chart in README.md.
 */

import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { runAb } from './ab.ts'
import { BENCH_DIR, buildEntries } from './build.ts'
import { canPin } from './child.ts'
import {
  type BenchConfig,
  type PartName,
  parseConfig,
  profileOf,
  type RuntimeName,
  USAGE,
} from './config.ts'
import { parseInstructionArgs, runInstructions } from './instructions.ts'
import { type LoadGenerator, loadGenerator } from './load.ts'
import { writeOverloadReport } from './overload-report.ts'
import { CLIENT_CONTENDERS, runClient } from './parts/client.ts'
import type { PartContext } from './parts/context.ts'
import { HTTP_CONTENDERS, runHttp } from './parts/http.ts'
import { METRICS_CONTENDERS, runMetrics, SERIES } from './parts/metrics.ts'
import { OVERLOAD_VARIANTS, runOverload } from './parts/overload.ts'
import { contendersOf, POLICY_PATHS, runPolicies } from './parts/policies.ts'
import { RATE_LIMIT_CONTENDERS, runRateLimit } from './parts/rate-limit.ts'
import { runSoak, SOAK_CONTENDERS } from './parts/soak.ts'
import { runProfile } from './profile.ts'
import { injectBetweenMarkers, type ResultsFile, renderMarkdown, renderSvg } from './report.ts'
import {
  type Measurements,
  type PartRecord,
  RATIOS,
  REFERENCE_RATIOS,
  ratiosFor,
} from './results.ts'
import { findRuntime } from './runtimes.ts'

const RUNNERS: Record<PartName, (ctx: PartContext) => Promise<unknown>> = {
  http: runHttp,
  policies: runPolicies,
  client: runClient,
  metrics: runMetrics,
  soak: runSoak,
  'rate-limit': runRateLimit,
  overload: runOverload,
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE)
    return
  }
  // `pnpm bench report [--out FILE]` re-renders README.md and the chart, measuring nothing.
  if (args[0] === 'report') {
    const config = parseConfig(args.slice(1), process.env)
    const file = JSON.parse(readFileSync(resolve(BENCH_DIR, config.out), 'utf8')) as ResultsFile
    writeReport(file)
    process.stdout.write('updated README.md and results/chart.svg\n')
    return
  }
  // `pnpm bench profile <contender> [flags]` profiles one HTTP contender instead.
  const profiling = args[0] === 'profile' ? (args[1] ?? '') : undefined
  // `pnpm bench instructions [contender...] [flags]` counts instructions per request.
  const counting = args[0] === 'instructions' ? parseInstructionArgs(args.slice(1)) : undefined
  // `pnpm bench ab <contender...> --base-dir DIR [flags]`: a build copied before a change vs now.
  const ab = args[0] === 'ab' ? parseAbArgs(args.slice(1)) : undefined
  const config = parseConfig(
    ab !== undefined
      ? ['http', ...ab.rest]
      : counting !== undefined
        ? ['http', ...counting.rest]
        : profiling === undefined
          ? args
          : ['http', ...args.slice(2)],
    process.env,
  )
  const began = Date.now()
  const log = (line: string): void => {
    process.stdout.write(
      `[bench ${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`,
    )
  }
  log(
    `parts: ${config.parts.join(', ')}; rounds ${config.rounds} × ${config.durationSec} s, warm-up ${config.warmupSec} s`,
  )
  log(
    `estimated time under load: about ${Math.ceil(estimateSeconds(config) / 60)} min (plus start-up)`,
  )
  const availability = await buildEntries()
  log(`Sturdy packages bundled: ${availability.present.join(', ')}`)
  const runtimes = {
    node20: findRuntime('node20', log),
    node24: config.runtimes.includes('node24')
      ? findRuntime('node24', log)
      : { name: 'node24' as const, reason: 'not asked for (--runtimes)' },
  }
  let generator: LoadGenerator | undefined
  const ctx: PartContext = {
    config,
    runtimes,
    availability,
    loadGenerator: () => {
      generator ??= loadGenerator(config.loadGenerator, log)
      return generator
    },
    log,
  }
  if (!canPin()) log('taskset unavailable: server and load are NOT pinned to separate cores')
  if (profiling !== undefined) {
    await runProfile(ctx, profiling)
    return
  }
  if (counting !== undefined) {
    await runInstructions(ctx, counting.names, counting.settings)
    return
  }
  if (ab !== undefined) {
    await runAb(ctx, ab.names, ab.baseDir)
    return
  }

  const outFile = resolve(BENCH_DIR, config.out)
  const previous = readPrevious(outFile)
  const measurements: Measurements = { ...previous.measurements }
  for (const part of config.parts) {
    log(`--- ${part}`)
    const results = await RUNNERS[part](ctx)
    ;(measurements as Record<string, PartRecord<unknown>>)[part] = {
      measuredAt: new Date().toISOString(),
      settings: settingsOf(config, part),
      results,
    }
  }
  if (config.parts.includes('http')) ctx.loadGenerator()

  const file = assemble(config, measurements, availability, runtimes, generator, previous.machine)
  mkdirSync(dirname(outFile), { recursive: true })
  writeFileSync(outFile, `${JSON.stringify(file, null, 2)}\n`)
  log(`wrote ${outFile}`)
  if (config.readme) {
    writeReport(file)
    log('updated README.md and results/chart.svg')
  }
  for (const [key, value] of Object.entries(file.ratios)) {
    log(`${key}: node24 ${value ?? 'null'} / node20 ${file.ratios_node20[key] ?? 'null'}`)
  }
  log(`done in ${((Date.now() - began) / 1000).toFixed(0)} s`)
}

/** `ab` arguments: contender names, `--base-dir DIR`, and the usual flags. */
function parseAbArgs(args: readonly string[]): {
  names: string[]
  baseDir: string
  rest: string[]
} {
  const names: string[] = []
  const rest: string[] = []
  let baseDir = '.build-base'
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--base-dir') baseDir = args[++i] as string
    else if (arg.startsWith('--')) rest.push(arg, args[++i] as string)
    else names.push(arg)
  }
  return { names, baseDir, rest }
}

/**
 * Seconds of load the config asks for, so a run says up front whether it fits the ~10 min
 * budget. Contenders that turn out null (a package not there yet) take no time.
 */
export function estimateSeconds(config: BenchConfig): number {
  const per = (warm: number, each: number) => warm + config.rounds * each
  const core = HTTP_CONTENDERS.filter((c) => c.group === 'core').length
  const attribution = HTTP_CONTENDERS.length - core
  const attributionRuns = config.attributionRuntimes.filter((r) =>
    config.runtimes.includes(r),
  ).length
  const sample = config.policySampleMs / 1000
  const seconds: Record<PartName, number> = {
    http:
      (core * config.runtimes.length + attribution * attributionRuns) *
      per(config.warmupSec, config.durationSec),
    policies:
      config.runtimes.length *
      POLICY_PATHS.reduce((n, path) => n + contendersOf(path).length, 0) *
      per(sample, sample),
    client:
      config.runtimes.length * CLIENT_CONTENDERS.length * per(config.warmupSec, config.durationSec),
    metrics: SERIES.length * METRICS_CONTENDERS.length * per(sample, sample),
    soak: (SOAK_CONTENDERS.length * config.soakRequests) / 8000,
    'rate-limit': config.runtimes.length * RATE_LIMIT_CONTENDERS.length * per(sample, sample),
    overload: profileOf(config) === 'full' ? 15 + 2 * OVERLOAD_VARIANTS.length * 36 : 30,
  }
  return config.parts.reduce((sum, part) => sum + seconds[part], 0)
}

/** Writes the chart and the results block of README.md from a results file. */
function writeReport(file: ResultsFile): void {
  const readmeFile = join(BENCH_DIR, 'README.md')
  writeFileSync(join(BENCH_DIR, 'results', 'chart.svg'), renderSvg(file.http?.results))
  const block = `${renderMarkdown(file, readProfiles())}\n\n![HTTP throughput relative to bare Hono](results/chart.svg)`
  const readme = existsSync(readmeFile) ? readFileSync(readmeFile, 'utf8') : '# @sturdy/bench\n'
  writeFileSync(readmeFile, injectBetweenMarkers(readme, block))
  formatMarkdown(readmeFile)
  writeOverloadReport(file.overload?.results)
}

/** The profile summaries `pnpm bench profile` left in results/profiles/. */
function readProfiles(): Record<string, string> {
  const dir = join(BENCH_DIR, 'results', 'profiles')
  if (!existsSync(dir)) return {}
  const out: Record<string, string> = {}
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.txt')) out[f.slice(0, -4)] = readFileSync(join(dir, f), 'utf8')
  }
  return out
}

/** Lets biome lay out the generated tables, so `pnpm lint` stays green after a run. */
function formatMarkdown(file: string): void {
  const biome = join(BENCH_DIR, '..', 'node_modules', '.bin', 'biome')
  try {
    execFileSync(biome, ['format', '--write', file], { stdio: 'ignore' })
  } catch {
    // Formatting is cosmetic; the figures are already written.
  }
}

function settingsOf(config: BenchConfig, part: PartName): Record<string, unknown> {
  const common = { rounds: config.rounds, profile: profileOf(config), only: config.only }
  switch (part) {
    case 'http':
      return {
        ...common,
        durationSec: config.durationSec,
        warmupSec: config.warmupSec,
        connections: config.connections,
        runtimes: config.runtimes,
        attributionRuntimes: config.attributionRuntimes,
        serverCpu: config.serverCpu,
        loadCpu: config.loadCpu,
        logMode: config.logMode,
      }
    case 'client':
      return {
        ...common,
        durationSec: config.durationSec,
        connections: config.connections,
        runtimes: config.runtimes,
      }
    case 'policies':
      return { ...common, sampleMs: config.policySampleMs, runtimes: config.runtimes }
    case 'metrics':
      return { ...common, sampleMs: config.policySampleMs }
    case 'soak':
      return { ...common, requests: config.soakRequests, connections: config.connections }
    case 'rate-limit':
      return { ...common, sampleMs: config.policySampleMs, runtimes: config.runtimes }
    case 'overload':
      return { ...common, serverCpu: config.serverCpu, loadCpu: config.loadCpu }
  }
}

function readPrevious(file: string): {
  measurements: Measurements
  machine?: Record<string, unknown>
} {
  if (!existsSync(file)) return { measurements: {} }
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as ResultsFile
    if (json.schema !== 1) return { measurements: {} }
    const { http, policies, client, metrics, soak, 'rate-limit': rateLimit, overload } = json
    return {
      measurements: { http, policies, client, metrics, soak, 'rate-limit': rateLimit, overload },
      machine: json.machine,
    }
  } catch {
    return { measurements: {} }
  }
}

function assemble(
  config: BenchConfig,
  m: Measurements,
  availability: { present: readonly string[]; missing: Readonly<Record<string, string>> },
  runtimes: Record<RuntimeName, { name: RuntimeName; version?: string; reason?: string }>,
  generator: LoadGenerator | undefined,
  previousMachine: Record<string, unknown> | undefined,
): ResultsFile & { schema: 1 } {
  const r24 = ratiosFor(RATIOS, m, 'node24')
  const r20 = ratiosFor(RATIOS, m, 'node20')
  // The file is `full` only when every part in it was measured with full settings.
  const parts = Object.values(m).filter(Boolean) as PartRecord<unknown>[]
  const profile = parts.every((p) => p.settings.profile === 'full') ? 'full' : 'reduced'
  return {
    schema: 1,
    generatedAt: new Date().toISOString(),
    profile,
    machine: {
      ...previousMachine,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
      node20: runtimes.node20.version ?? runtimes.node20.reason,
      node24: runtimes.node24.version ?? runtimes.node24.reason,
      loadGenerator: generator?.version ?? previousMachine?.loadGenerator ?? 'none',
      pinned: canPin() ? `server cpu ${config.serverCpu}, load cpu ${config.loadCpu}` : false,
    },
    sturdyPackages: availability,
    ratios: r24.values,
    ratios_node20: r20.values,
    ratio_details: { node24: r24.details, node20: r20.details } as ResultsFile['ratio_details'],
    reference_ratios: {
      node24: ratiosFor(REFERENCE_RATIOS, m, 'node24').values,
      node20: ratiosFor(REFERENCE_RATIOS, m, 'node20').values,
    },
    ...m,
  }
}

// Only when run as the CLI, so tests can import estimateSeconds without starting a run.
if (process.argv[1] !== undefined && /cli\.ts$/.test(process.argv[1]))
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    process.exitCode = 1
  })
