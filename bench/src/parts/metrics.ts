import { join } from 'node:path'
import { BUILD_DIR } from '../build.ts'
import { type Child, startChild } from '../child.ts'
import { type Summary, summarize } from '../stats.ts'
import { type PartContext, rotate, selected, type Unmeasured } from './context.ts'

export const METRICS_CONTENDERS: readonly { name: string; label: string }[] = [
  { name: 'sturdy-metrics', label: '@sturdy/metrics metricsHandler()' },
  { name: 'prom-client', label: 'prom-client registry.metrics() (what the anchors expose)' },
]
export const SERIES = [100, 1000, 10_000] as const

export type MetricsResult =
  | { status: 'ok'; label: string; msPerScrape: Summary; bytes: number }
  | (Unmeasured & { label: string })

/** Scrape time per series count, per contender; runs on the machine's Node only. */
export interface MetricsResults {
  readonly runtime: string
  readonly bySeries: Record<string, Record<string, MetricsResult>>
}

/** Runs the metrics part: exposition time with 100, 1,000 and 10,000 series. */
export async function runMetrics(ctx: PartContext): Promise<MetricsResults> {
  const { config } = ctx
  const bySeries: Record<string, Record<string, MetricsResult>> = {}
  for (const n of SERIES) {
    const results: Record<string, MetricsResult> = {}
    const workers: {
      name: string
      label: string
      child: Child
      bytes: number
      samples: number[]
    }[] = []
    try {
      for (const c of METRICS_CONTENDERS) {
        if (!selected(ctx, c.name)) continue
        const child = startChild(process.execPath, join(BUILD_DIR, 'metrics.mjs'), config.loadCpu, {
          BENCH_CONTENDER: c.name,
          BENCH_SERIES: String(n),
        })
        const ready = await child.next<{
          type: 'ready'
          available: boolean
          missing: string[]
          bytes: number
        }>('ready', 120_000)
        if (!ready.available) {
          await child.stop()
          results[c.name] = { status: 'null', label: c.label, reason: ready.missing.join('; ') }
          continue
        }
        workers.push({ ...c, child, bytes: ready.bytes, samples: [] })
      }
      const ask = (w: (typeof workers)[number]) =>
        w.child.ask<{ type: 'sample'; msPerScrape: number }>(
          { type: 'sample', ms: config.policySampleMs },
          'sample',
          120_000,
        )
      for (const w of workers) await ask(w)
      for (let round = 0; round < config.rounds; round++) {
        for (const w of rotate(workers, round)) w.samples.push((await ask(w)).msPerScrape)
      }
      for (const w of workers) {
        const msPerScrape = summarize(w.samples)
        results[w.name] =
          msPerScrape === undefined
            ? { status: 'null', label: w.label, reason: 'no sample' }
            : { status: 'ok', label: w.label, msPerScrape, bytes: w.bytes }
      }
    } finally {
      await Promise.all(workers.map((w) => w.child.stop()))
    }
    bySeries[String(n)] = results
    ctx.log(`metrics ${n} series done`)
  }
  return { runtime: process.version, bySeries }
}
