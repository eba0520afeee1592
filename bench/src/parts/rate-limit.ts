import { join } from 'node:path'
import { startRedisServer } from '../../../scripts/redis-server.ts'
import { BUILD_DIR } from '../build.ts'
import { type Child, startChild } from '../child.ts'
import type { RuntimeName } from '../config.ts'
import { type Summary, summarize } from '../stats.ts'
import { available, type PartContext, rotate, selected, type Unmeasured } from './context.ts'

/** The rate-limit contenders: the latency a limiter adds per request, by store. */
export const RATE_LIMIT_CONTENDERS: readonly { name: string; label: string }[] = [
  { name: 'none', label: 'no limiter (baseline)' },
  { name: 'memory', label: '@sturdy/rate-limit memory store' },
  { name: 'redis', label: '@sturdy/rate-limit Redis store (loopback)' },
]

export type RateLimitResult =
  | {
      status: 'ok'
      label: string
      /** Wall-clock ns per request, one request at a time. */
      nsPerOp: Summary
      cpuNsPerOp: Summary | undefined
      /** ns added over the baseline, median of per-round differences. */
      addedNs: Summary | undefined
    }
  | (Unmeasured & { label: string })

export type RateLimitResults = Partial<Record<RuntimeName, Record<string, RateLimitResult>>>

/**
 * Runs the rate-limit part: a real redis-server on a free loopback port for the Redis
 * contender (installed with apt when missing and root; the contender is `null` when it
 * cannot be), one worker per contender pinned to the load CPU, interleaved rounds.
 */
export async function runRateLimit(ctx: PartContext): Promise<RateLimitResults> {
  const out: RateLimitResults = {}
  const { config } = ctx
  const file = join(BUILD_DIR, 'rate-limit.mjs')
  let redisUrl: string | undefined
  let redisReason = ''
  const server = await startRedisServer().catch((error: unknown) => {
    redisReason = `redis-server unavailable: ${error instanceof Error ? error.message : String(error)}`
    return undefined
  })
  redisUrl = server?.url
  try {
    for (const runtime of available(ctx, config.runtimes)) {
      const results: Record<string, RateLimitResult> = {}
      const workers: {
        name: string
        label: string
        child: Child
        samples: number[]
        cpu: number[]
      }[] = []
      try {
        for (const c of RATE_LIMIT_CONTENDERS) {
          if (!selected(ctx, c.name)) continue
          if (c.name === 'redis' && redisUrl === undefined) {
            results[c.name] = { status: 'null', label: c.label, reason: redisReason }
            continue
          }
          const child = startChild(runtime.node, file, config.loadCpu, {
            BENCH_CONTENDER: c.name,
            ...(redisUrl === undefined ? {} : { BENCH_REDIS_URL: redisUrl }),
          })
          const ready = await child.next<{ type: 'ready'; available: boolean; missing: string[] }>(
            'ready',
          )
          if (!ready.available) {
            await child.stop()
            results[c.name] = { status: 'null', label: c.label, reason: ready.missing.join('; ') }
            continue
          }
          workers.push({ ...c, child, samples: [], cpu: [] })
        }
        const ask = (w: (typeof workers)[number], ms: number) =>
          w.child.ask<{ type: 'sample'; nsPerOp: number; cpuNsPerOp: number }>(
            { type: 'sample', ms },
            'sample',
            ms * 50 + 30_000,
          )
        for (const w of workers) await ask(w, config.policySampleMs)
        for (let round = 0; round < config.rounds; round++) {
          for (const w of rotate(workers, round)) {
            const r = await ask(w, config.policySampleMs)
            w.samples.push(r.nsPerOp)
            w.cpu.push(r.cpuNsPerOp)
          }
        }
        const base = workers.find((w) => w.name === 'none')
        for (const w of workers) {
          const nsPerOp = summarize(w.samples)
          const added =
            base === undefined
              ? undefined
              : summarize(w.samples.map((s, i) => s - (base.samples[i] ?? s)))
          results[w.name] =
            nsPerOp === undefined
              ? { status: 'null', label: w.label, reason: 'no sample' }
              : {
                  status: 'ok',
                  label: w.label,
                  nsPerOp,
                  cpuNsPerOp: summarize(w.cpu),
                  addedNs: added,
                }
        }
      } finally {
        await Promise.all(workers.map((w) => w.child.stop()))
      }
      ctx.log(`rate-limit ${runtime.name}: ${workers.length} contenders measured`)
      out[runtime.name] = results
    }
  } finally {
    await server?.stop()
  }
  return out
}

/** The README block of the part. */
// biome-ignore lint/suspicious/noExplicitAny: read from JSON
export function renderRateLimit(r: any): string[] {
  if (r === undefined) return []
  const out = ['', '### Rate limiting (latency added per request, one request at a time)']
  const us = (ns: number | undefined): string => (ns === undefined ? '—' : (ns / 1000).toFixed(2))
  for (const [runtime, contenders] of Object.entries(r)) {
    out.push(
      '',
      `**${runtime}**`,
      '',
      '| contender | µs per request | µs added (median, min–max) |',
      '|---|---|---|',
    )
    // biome-ignore lint/suspicious/noExplicitAny: read from JSON
    for (const c of Object.values(contenders as Record<string, any>)) {
      out.push(
        c.status === 'ok'
          ? `| ${c.label} | ${us(c.nsPerOp.median)} | ${c.addedNs === undefined ? '—' : `${us(c.addedNs.median)} (${us(c.addedNs.min)}–${us(c.addedNs.max)})`} |`
          : `| ${c.label} | null: ${String(c.reason).replace(/\|/g, '/')} | — |`,
      )
    }
  }
  return out
}
