import { join } from 'node:path'
import { BUILD_DIR } from '../build.ts'
import { type Child, startChild } from '../child.ts'
import type { RuntimeName } from '../config.ts'
import { type Summary, summarize } from '../stats.ts'
import { available, type PartContext, rotate, selected, type Unmeasured } from './context.ts'

/** The policy contenders; `sturdy-*` ones need their package. */
export const POLICY_CONTENDERS: readonly { name: string; label: string }[] = [
  { name: 'bare', label: 'bare call' },
  { name: 'sturdy-timeout', label: '@sturdy/timeout timeout()' },
  { name: 'sturdy-retry', label: '@sturdy/retry retry()' },
  { name: 'sturdy-breaker', label: '@sturdy/breaker circuitBreaker()' },
  { name: 'sturdy-composed', label: 'Sturdy compose(retry, breaker, timeout)' },
  { name: 'sturdy-hedge', label: '@sturdy/retry hedge() (first attempt answers)' },
  { name: 'sturdy-chaos-off', label: '@sturdy/chaos chaosFault(), disabled' },
  { name: 'bare-mw', label: 'empty middleware, called directly' },
  { name: 'sturdy-chaos-mw-off', label: '@sturdy/chaos chaosMiddleware(), disabled' },
  { name: 'sturdy-chaos-mw-scoped-out', label: '@sturdy/chaos chaosMiddleware(), on, other route' },
  { name: 'cockatiel-timeout', label: 'cockatiel timeout (aggressive)' },
  { name: 'cockatiel-retry', label: 'cockatiel retry' },
  { name: 'cockatiel-breaker', label: 'cockatiel circuitBreaker' },
  { name: 'cockatiel-wrap', label: 'cockatiel wrap(retry, breaker, timeout)' },
  { name: 'opossum-fire', label: 'opossum fire()' },
  { name: 'p-retry', label: 'p-retry' },
]

export const POLICY_PATHS = ['success', 'failure', 'open'] as const
export type PolicyPath = (typeof POLICY_PATHS)[number]

/**
 * The contenders of the `open` path: every call meets a tripped circuit (held open for the
 * whole run) and is rejected without running — the path that matters in an outage. The
 * three breakers only (what `breaker_open_reject_*` compares): the composed stacks reject
 * at their breaker too, and the suite has a time budget.
 */
export const OPEN_PATH_CONTENDERS: ReadonlySet<string> = new Set([
  'sturdy-breaker',
  'cockatiel-breaker',
  'opossum-fire',
])

/** The contenders a path runs. */
export function contendersOf(path: PolicyPath): readonly { name: string; label: string }[] {
  return path === 'open'
    ? POLICY_CONTENDERS.filter((c) => OPEN_PATH_CONTENDERS.has(c.name))
    : POLICY_CONTENDERS
}

/**
 * Reads `policy:<contender>[:success|failure|open]` (the name `pnpm bench instructions` and
 * `pnpm bench ab` take for a policy contender); `undefined` for any other name.
 * @throws Error for an unknown path, or a contender the path does not run
 */
export function parsePolicyName(
  name: string,
): { readonly contender: string; readonly path: PolicyPath } | undefined {
  if (!name.startsWith('policy:')) return undefined
  const [, contender = '', path = 'success'] = name.split(':')
  if (!(POLICY_PATHS as readonly string[]).includes(path)) {
    throw new Error(`unknown policy path ${path} in ${name}`)
  }
  if (!contendersOf(path as PolicyPath).some((c) => c.name === contender)) {
    throw new Error(`unknown policy contender ${contender} on the ${path} path`)
  }
  return { contender, path: path as PolicyPath }
}

/**
 * Starts the policies worker (`file`, a bundle of `workers/policies.ts`) for one
 * contender on one path, pinned to `cpu`, and waits for its `ready`.
 */
export async function startPolicyWorker(
  node: string,
  file: string,
  cpu: string,
  contender: string,
  path: PolicyPath,
): Promise<{ child: Child; ready: { available: boolean; missing: string[] } }> {
  const child = startChild(node, file, cpu, { BENCH_CONTENDER: contender, BENCH_PATH: path })
  try {
    const ready = await child.next<{ type: 'ready'; available: boolean; missing: string[] }>(
      'ready',
    )
    return { child, ready }
  } catch (error) {
    await child.stop()
    throw error
  }
}

/** One sample of about `ms` from a policies worker: wall-clock and CPU ns per op. */
export function samplePolicy(
  child: Child,
  ms: number,
): Promise<{ nsPerOp: number; cpuNsPerOp: number }> {
  return child.ask<{ type: 'sample'; nsPerOp: number; cpuNsPerOp: number }>(
    { type: 'sample', ms },
    'sample',
    ms * 50 + 30_000,
  )
}

export type PolicyResult =
  | {
      status: 'ok'
      label: string
      /** Wall-clock ns per op: the figure ratios use. */
      nsPerOp: Summary
      /** CPU ns per op: moved less by other processes than wall time; equals wall time on a quiet core except while timers wait. */
      cpuNsPerOp: Summary | undefined
      missing: readonly string[]
    }
  | (Unmeasured & { label: string })

/** Per runtime, per path, per contender (results written before the `open` path lack it). */
export type PolicyResults = Partial<
  Record<
    RuntimeName,
    Record<'success' | 'failure', Record<string, PolicyResult>> &
      Partial<Record<'open', Record<string, PolicyResult>>>
  >
>

/**
 * Runs the policies part: one worker per contender and path, pinned to the load CPU,
 * warmed up, then sampled in interleaved rounds.
 */
export async function runPolicies(ctx: PartContext): Promise<PolicyResults> {
  const out: PolicyResults = {}
  const { config } = ctx
  const file = join(BUILD_DIR, 'policies.mjs')
  for (const runtime of available(ctx, config.runtimes)) {
    const byPath = { success: {}, failure: {}, open: {} } as Record<
      PolicyPath,
      Record<string, PolicyResult>
    >
    for (const path of POLICY_PATHS) {
      const workers: {
        name: string
        label: string
        child: Child
        missing: string[]
        samples: number[]
        cpu: number[]
      }[] = []
      try {
        for (const c of contendersOf(path)) {
          if (!selected(ctx, c.name)) continue
          const { child, ready } = await startPolicyWorker(
            runtime.node,
            file,
            config.loadCpu,
            c.name,
            path,
          )
          if (!ready.available) {
            await child.stop()
            byPath[path][c.name] = {
              status: 'null',
              label: c.label,
              reason: ready.missing.join('; '),
            }
            continue
          }
          workers.push({ ...c, child, missing: ready.missing, samples: [], cpu: [] })
        }
        for (const w of workers) await samplePolicy(w.child, config.policySampleMs)
        for (let round = 0; round < config.rounds; round++) {
          for (const w of rotate(workers, round)) {
            const r = await samplePolicy(w.child, config.policySampleMs)
            w.samples.push(r.nsPerOp)
            w.cpu.push(r.cpuNsPerOp)
          }
        }
        for (const w of workers) {
          const nsPerOp = summarize(w.samples)
          byPath[path][w.name] =
            nsPerOp === undefined
              ? { status: 'null', label: w.label, reason: 'no sample' }
              : {
                  status: 'ok',
                  label: w.label,
                  nsPerOp,
                  cpuNsPerOp: summarize(w.cpu),
                  missing: w.missing,
                }
        }
      } finally {
        await Promise.all(workers.map((w) => w.child.stop()))
      }
      ctx.log(`policies ${runtime.name} ${path}: ${workers.length} contenders measured`)
    }
    out[runtime.name] = byPath
  }
  return out
}
