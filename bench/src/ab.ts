/**
 * `pnpm bench ab <contender...> --base-dir DIR`: the same HTTP contender built twice —
 * `DIR` (a copy of `.build` made before a change) against the current `.build` — started
 * side by side and loaded in alternating rounds. Reports server CPU µs per request (and
 * req/s) per side and the per-round ratio, the figure a change is accepted or reverted by
 * when the machine is too busy for req/s (see bench/README.md, "Accepting a change").
 * A `policy:<name>[:path]` contender runs the policies worker from both builds instead,
 * sampled in alternating turns, and reports CPU ns per call.
 */
import { join, resolve } from 'node:path'
import { BENCH_DIR, BUILD_DIR } from './build.ts'
import { type Child, startChild } from './child.ts'
import type { PartContext } from './parts/context.ts'
import {
  type PolicyPath,
  parsePolicyName,
  samplePolicy,
  startPolicyWorker,
} from './parts/policies.ts'
import { summarize } from './stats.ts'

interface Side {
  readonly label: 'base' | 'new'
  readonly child: Child
  readonly url: string
  readonly cpu: number[]
  readonly rps: number[]
}

/** Runs the A/B comparison for each contender on each configured runtime. */
export async function runAb(
  ctx: PartContext,
  names: readonly string[],
  baseDir: string,
): Promise<void> {
  const base = resolve(BENCH_DIR, baseDir)
  const { config } = ctx
  for (const runtime of config.runtimes) {
    const rt = ctx.runtimes[runtime]
    if (!('node' in rt)) continue
    for (const name of names) {
      const policy = parsePolicyName(name)
      if (policy !== undefined) {
        await abPolicy(ctx, rt.node, runtime, name, policy, base)
        continue
      }
      const sides: Side[] = []
      try {
        for (const [label, dir] of [
          ['base', base],
          ['new', BUILD_DIR],
        ] as const) {
          const child = startChild(rt.node, join(dir, `http-${name}.mjs`), config.serverCpu, {
            BENCH_LOG: '/dev/null',
            BENCH_LOG_MODE: config.logMode,
          })
          const ready = await child.next<{ type: 'ready'; port: number }>('ready', 180_000)
          sides.push({
            label,
            child,
            url: `http://127.0.0.1:${ready.port}/users/42`,
            cpu: [],
            rps: [],
          })
        }
        for (const s of sides) {
          await ctx.loadGenerator().run(s.url, config.warmupSec, config.connections, config.loadCpu)
        }
        for (let round = 0; round < config.rounds; round++) {
          const order = round % 2 === 0 ? sides : [...sides].reverse()
          for (const s of order) {
            const before = await s.child.ask<{ type: 'stats'; cpuUs: number }>(
              { type: 'stats' },
              'stats',
            )
            const r = await ctx
              .loadGenerator()
              .run(s.url, config.durationSec, config.connections, config.loadCpu)
            const after = await s.child.ask<{ type: 'stats'; cpuUs: number }>(
              { type: 'stats' },
              'stats',
            )
            if (r.non2xx + r.socketErrors > 0) throw new Error(`${s.label} answered errors`)
            s.cpu.push((after.cpuUs - before.cpuUs) / r.requests)
            s.rps.push(r.requestsPerSec)
          }
        }
        const [a, b] = sides as [Side, Side]
        const cpuRatio = summarize(a.cpu.map((x, i) => x / (b.cpu[i] as number)))
        const rpsRatio = summarize(b.rps.map((x, i) => x / (a.rps[i] as number)))
        const med = (xs: number[]): string => (summarize(xs)?.median ?? Number.NaN).toFixed(1)
        ctx.log(
          `ab ${runtime} ${name}: CPU µs/req base ${med(a.cpu)} → new ${med(b.cpu)}; ` +
            `base/new CPU ${cpuRatio?.median.toFixed(3)} (${cpuRatio?.min.toFixed(3)}–${cpuRatio?.max.toFixed(3)}); ` +
            `req/s new/base ${rpsRatio?.median.toFixed(3)} (${med(a.rps)} → ${med(b.rps)})`,
        )
      } finally {
        await Promise.all(sides.map((s) => s.child.stop()))
      }
    }
  }
}

/** Samples per side per round of a policy A/B: one 300 ms sample is one op count. */
const POLICY_SAMPLES_PER_ROUND = 5

/**
 * A/B of one policy contender: the policies worker of each build on the load CPU (one
 * runs at a time), warmed up, then sampled in alternating turns. The figure is CPU ns per
 * call, the median of each side's samples, and the median of the paired ratios.
 */
async function abPolicy(
  ctx: PartContext,
  node: string,
  runtime: string,
  name: string,
  policy: { readonly contender: string; readonly path: PolicyPath },
  baseDir: string,
): Promise<void> {
  const { config } = ctx
  const sides: { label: 'base' | 'new'; child: Child; cpu: number[] }[] = []
  try {
    for (const [label, dir] of [
      ['base', baseDir],
      ['new', BUILD_DIR],
    ] as const) {
      const { child, ready } = await startPolicyWorker(
        node,
        join(dir, 'policies.mjs'),
        config.loadCpu,
        policy.contender,
        policy.path,
      )
      sides.push({ label, child, cpu: [] })
      if (!ready.available) throw new Error(`${label}: ${ready.missing.join('; ')}`)
    }
    const ms = config.policySampleMs
    for (const s of sides) await samplePolicy(s.child, ms)
    for (let turn = 0; turn < config.rounds * POLICY_SAMPLES_PER_ROUND; turn++) {
      for (const s of turn % 2 === 0 ? sides : [...sides].reverse()) {
        s.cpu.push((await samplePolicy(s.child, ms)).cpuNsPerOp)
      }
    }
    const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]]
    const ratio = summarize(a.cpu.map((x, i) => x / (b.cpu[i] as number)))
    const med = (xs: number[]): string => (summarize(xs)?.median ?? Number.NaN).toFixed(0)
    const wins = a.cpu.filter((x, i) => x > (b.cpu[i] as number)).length
    ctx.log(
      `ab ${runtime} ${name}: CPU ns/call base ${med(a.cpu)} → new ${med(b.cpu)}; ` +
        `base/new ${ratio?.median.toFixed(3)} (${ratio?.min.toFixed(3)}–${ratio?.max.toFixed(3)}); ` +
        `new cheaper in ${wins} of ${a.cpu.length} pairs`,
    )
  } finally {
    await Promise.all(sides.map((s) => s.child.stop()))
  }
}
