import { join } from 'node:path'
import { BUILD_DIR } from '../build.ts'
import { type Child, startChild } from '../child.ts'
import type { RuntimeName } from '../config.ts'
import { type Summary, summarize } from '../stats.ts'
import { available, type PartContext, rotate, selected, type Unmeasured } from './context.ts'

export const CLIENT_CONTENDERS: readonly { name: string; label: string }[] = [
  { name: 'sturdy-client', label: '@sturdy/client json(), all policies on' },
  { name: 'sturdy-client-fetch', label: '@sturdy/client fetch() + res.json(), all policies on' },
  { name: 'fetch', label: 'global fetch' },
  { name: 'undici-pool', label: 'raw undici Pool' },
  { name: 'http-agent', label: 'node:http keep-alive Agent' },
]

export type ClientResult =
  | {
      status: 'ok'
      label: string
      reqPerSec: Summary
      p50Ms: Summary | undefined
      p99Ms: Summary | undefined
      /** The client process's CPU time per call, in µs (user + system). */
      cpuUsPerReq?: Summary | undefined
      errors: number
    }
  | (Unmeasured & { label: string })

export type ClientResults = Partial<Record<RuntimeName, Record<string, ClientResult>>>

interface Sample {
  type: 'sample'
  reqPerSec: number
  p50Ms?: number
  p99Ms?: number
  cpuUsPerReq?: number
  errors: number
}

/**
 * Runs the client part: a node:http upstream pinned to the server CPU, one worker per
 * client pinned to the load CPU, interleaved rounds of `durationSec` each.
 */
export async function runClient(ctx: PartContext): Promise<ClientResults> {
  const { config } = ctx
  const out: ClientResults = {}
  for (const runtime of available(ctx, config.runtimes)) {
    const results: Record<string, ClientResult> = {}
    // The upstream runs on the machine's Node for every client runtime: only the client varies.
    const upstream = startChild(
      process.execPath,
      join(BUILD_DIR, 'upstream.mjs'),
      config.serverCpu,
      {},
    )
    const workers: { name: string; label: string; child: Child; samples: Sample[] }[] = []
    try {
      const ready = await upstream.next<{ type: 'ready'; port: number }>('ready')
      const url = `http://127.0.0.1:${ready.port}/users/42`
      for (const c of CLIENT_CONTENDERS) {
        if (!selected(ctx, c.name)) continue
        const child = startChild(runtime.node, join(BUILD_DIR, 'client.mjs'), config.loadCpu, {
          BENCH_CONTENDER: c.name,
          BENCH_URL: url,
          BENCH_CONNECTIONS: String(config.connections),
        })
        const hello = await child.next<{ type: 'ready'; available: boolean; missing: string[] }>(
          'ready',
        )
        if (!hello.available) {
          await child.stop()
          results[c.name] = {
            status: 'null',
            label: c.label,
            reason: hello.missing.join('; ') || 'not wired yet',
          }
          continue
        }
        workers.push({ ...c, child, samples: [] })
      }
      const ask = (w: (typeof workers)[number], sec: number) =>
        w.child.ask<Sample>({ type: 'sample', sec }, 'sample', sec * 1000 + 30_000)
      if (config.warmupSec > 0) for (const w of workers) await ask(w, config.warmupSec)
      for (let round = 0; round < config.rounds; round++) {
        for (const w of rotate(workers, round)) w.samples.push(await ask(w, config.durationSec))
      }
      for (const w of workers) {
        const reqPerSec = summarize(w.samples.map((s) => s.reqPerSec))
        results[w.name] =
          reqPerSec === undefined
            ? { status: 'null', label: w.label, reason: 'no sample' }
            : {
                status: 'ok',
                label: w.label,
                reqPerSec,
                p50Ms: summarize(
                  w.samples.flatMap((s) => (s.p50Ms === undefined ? [] : [s.p50Ms])),
                ),
                p99Ms: summarize(
                  w.samples.flatMap((s) => (s.p99Ms === undefined ? [] : [s.p99Ms])),
                ),
                cpuUsPerReq: summarize(
                  w.samples.flatMap((s) => (s.cpuUsPerReq === undefined ? [] : [s.cpuUsPerReq])),
                ),
                errors: w.samples.reduce((sum, s) => sum + s.errors, 0),
              }
      }
    } finally {
      await Promise.all([...workers.map((w) => w.child.stop()), upstream.stop()])
    }
    ctx.log(`client ${runtime.name}: ${Object.keys(results).join(', ')}`)
    out[runtime.name] = results
  }
  return out
}
