/**
 * `pnpm bench profile <contender>`: runs one HTTP contender under `node --cpu-prof`,
 * loads it like a round does, and prints the profile's top frames by self time — the
 * evidence the issue asks for next to every missed target.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { BENCH_DIR, BUILD_DIR } from './build.ts'
import { startChild } from './child.ts'
import type { PartContext } from './parts/context.ts'
import { HTTP_CONTENDERS } from './parts/http.ts'
import { POLICY_CONTENDERS } from './parts/policies.ts'

/** The parts of a V8 `.cpuprofile` the summary reads. */
export interface CpuProfile {
  nodes: {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
  }[]
  samples: number[]
  timeDeltas: number[]
}

/** One line of the summary: a function and the share of samples spent in it. */
export interface Frame {
  readonly frame: string
  readonly selfMs: number
  readonly percent: number
}

/**
 * Self time per function (samples whose leaf is that function), heaviest first. Frames
 * with the same name and location are merged, whichever call path reached them.
 */
export function topFrames(profile: CpuProfile, limit = 20): Frame[] {
  const label = new Map<number, string>()
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame
    const where = url === '' ? '' : ` ${basename(url)}:${lineNumber + 1}`
    label.set(node.id, `${functionName || '(anonymous)'}${where}`)
  }
  const self = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0
    const key = label.get(id) ?? '(unknown)'
    self.set(key, (self.get(key) ?? 0) + dt)
    total += dt
  })
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([frame, us]) => ({
      frame,
      selfMs: Math.round(us / 100) / 10,
      percent: total === 0 ? 0 : Math.round((us / total) * 1000) / 10,
    }))
}

/**
 * Profiles one contender on each configured runtime and writes the summaries: an HTTP
 * contender by name, or a policy contender as `policy:<name>` (success path).
 */
export async function runProfile(ctx: PartContext, name: string): Promise<void> {
  if (name.startsWith('policy:')) return profilePolicy(ctx, name.slice('policy:'.length))
  const contender = HTTP_CONTENDERS.find((c) => c.name === name)
  if (contender === undefined) {
    throw new Error(
      `unknown contender ${name}; one of: ${HTTP_CONTENDERS.map((c) => c.name).join(', ')}`,
    )
  }
  const outDir = join(BENCH_DIR, 'results', 'profiles')
  mkdirSync(outDir, { recursive: true })
  for (const runtime of ctx.config.runtimes) {
    const rt = ctx.runtimes[runtime]
    if (!('node' in rt)) {
      ctx.log(`profile ${name} ${runtime}: skipped (${rt.reason})`)
      continue
    }
    const profDir = join(tmpdir(), `sturdy-bench-prof-${process.pid}-${runtime}`)
    rmSync(profDir, { recursive: true, force: true })
    mkdirSync(profDir, { recursive: true })
    const child = startChild(
      rt.node,
      join(BUILD_DIR, `http-${name}.mjs`),
      ctx.config.serverCpu,
      { BENCH_LOG: join(profDir, 'server.log'), BENCH_LOG_MODE: ctx.config.logMode },
      ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    )
    try {
      const ready = await child.next<{ type: 'ready'; port: number }>('ready', 120_000)
      const url = `http://127.0.0.1:${ready.port}/users/42`
      const { config } = ctx
      if (config.warmupSec > 0)
        await ctx.loadGenerator().run(url, config.warmupSec, config.connections, config.loadCpu)
      const load = await ctx
        .loadGenerator()
        .run(url, config.durationSec, config.connections, config.loadCpu)
      await child.stop()
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
      if (file === undefined) throw new Error('the server wrote no .cpuprofile')
      keepProfile(join(profDir, file), name, runtime)
      const frames = topFrames(
        JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile,
        25,
      )
      const text = [
        `# ${contender.label} (${name}) on ${rt.version}: ${Math.round(load.requestsPerSec)} req/s under the profiler`,
        '# self ms  self %  frame',
        ...frames.map(
          (f) => `${String(f.selfMs).padStart(9)}  ${String(f.percent).padStart(5)}%  ${f.frame}`,
        ),
      ].join('\n')
      const out = join(outDir, `${name}-${runtime}.txt`)
      writeFileSync(out, `${text}\n`)
      ctx.log(`profile written to ${out}\n${text}`)
    } finally {
      await child.stop()
      rmSync(profDir, { recursive: true, force: true })
    }
  }
}

async function profilePolicy(ctx: PartContext, name: string): Promise<void> {
  const contender = POLICY_CONTENDERS.find((c) => c.name === name)
  if (contender === undefined) {
    throw new Error(
      `unknown policy contender ${name}; one of: ${POLICY_CONTENDERS.map((c) => c.name).join(', ')}`,
    )
  }
  const outDir = join(BENCH_DIR, 'results', 'profiles')
  mkdirSync(outDir, { recursive: true })
  for (const runtime of ctx.config.runtimes) {
    const rt = ctx.runtimes[runtime]
    if (!('node' in rt)) continue
    const profDir = join(tmpdir(), `sturdy-bench-prof-${process.pid}-${runtime}`)
    rmSync(profDir, { recursive: true, force: true })
    const child = startChild(
      rt.node,
      join(BUILD_DIR, 'policies.mjs'),
      ctx.config.loadCpu,
      { BENCH_CONTENDER: name, BENCH_PATH: 'success' },
      ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
    )
    try {
      const ready = await child.next<{ type: 'ready'; available: boolean; missing: string[] }>(
        'ready',
      )
      if (!ready.available) throw new Error(ready.missing.join('; '))
      const ms = ctx.config.durationSec * 1000
      const sample = await child.ask<{ type: 'sample'; nsPerOp: number }>(
        { type: 'sample', ms },
        'sample',
        ms * 10 + 30_000,
      )
      await child.stop()
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'))
      if (file === undefined) throw new Error('the worker wrote no .cpuprofile')
      keepProfile(join(profDir, file), name, runtime)
      const frames = topFrames(
        JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile,
        25,
      )
      const text = [
        `# ${contender.label} (policy:${name}), success path, on ${rt.version}: ${Math.round(sample.nsPerOp)} ns/op under the profiler`,
        '# self ms  self %  frame (policies.mjs lines are the bundle: see .build/policies.mjs)',
        ...frames.map(
          (f) => `${String(f.selfMs).padStart(9)}  ${String(f.percent).padStart(5)}%  ${f.frame}`,
        ),
      ].join('\n')
      const out = join(outDir, `policy-${name}-${runtime}.txt`)
      writeFileSync(out, `${text}\n`)
      ctx.log(`profile written to ${out}\n${text}`)
    } finally {
      await child.stop()
      rmSync(profDir, { recursive: true, force: true })
    }
  }
}

/** With `BENCH_PROFILE_KEEP=<prefix>`, keeps the raw profile as `<prefix>-<name>-<runtime>.cpuprofile`. */
function keepProfile(file: string, name: string, runtime: string): void {
  const prefix = process.env.BENCH_PROFILE_KEEP
  if (prefix === undefined || prefix === '') return
  copyFileSync(file, `${prefix}-${name.replace(/[^\w.-]/g, '_')}-${runtime}.cpuprofile`)
}
