import { join } from 'node:path'
import { BUILD_DIR } from '../build.ts'
import { startChild } from '../child.ts'
import type { SelfStats } from '../lib/entry.ts'
import { type PartContext, selected, type Unmeasured } from './context.ts'

export const SOAK_CONTENDERS: readonly { name: string; label: string; sturdy: boolean }[] = [
  { name: 'sturdy-deadline', label: 'Hono + @sturdy/timeout deadline(5 ms)', sturdy: true },
  { name: 'anchor-timeout', label: 'Hono + hono/timeout(5 ms)', sturdy: false },
]

interface Memory {
  rssMb: number
  heapUsedMb: number
}

export type SoakResult =
  | {
      status: 'ok'
      label: string
      /** After a 2,000-request warm-up and a full GC. */
      before: Memory
      /** After all requests, a 1 s pause and a full GC. */
      after: Memory
      statuses: Record<string, number>
      sec: number
    }
  | (Unmeasured & { label: string })

export interface SoakResults {
  readonly runtime: string
  readonly requests: number
  readonly contenders: Record<string, SoakResult>
}

const MB = 1024 * 1024
const mem = (s: SelfStats): Memory => ({ rssMb: s.rssBytes / MB, heapUsedMb: s.heapUsedBytes / MB })

/** Runs the memory soak: RSS and heap before and after N requests whose deadlines fire. */
export async function runSoak(ctx: PartContext): Promise<SoakResults> {
  const { config } = ctx
  const contenders: Record<string, SoakResult> = {}
  for (const c of SOAK_CONTENDERS) {
    if (!selected(ctx, c.name)) continue
    const server = startChild(
      process.execPath,
      join(BUILD_DIR, `soak-${c.name}.mjs`),
      config.serverCpu,
      {},
      ['--expose-gc'],
    )
    try {
      const ready = await server.next<{
        type: 'ready'
        port: number
        missing: string[]
        stack: string[]
      }>('ready')
      if (c.sturdy && ready.stack.length === 0) {
        contenders[c.name] = { status: 'null', label: c.label, reason: ready.missing.join('; ') }
        continue
      }
      const url = `http://127.0.0.1:${ready.port}/slow`
      const load = async (requests: number) => {
        const worker = startChild(
          process.execPath,
          join(BUILD_DIR, 'soak-load.mjs'),
          config.loadCpu,
          {
            BENCH_URL: url,
            BENCH_REQUESTS: String(requests),
            BENCH_CONNECTIONS: String(config.connections),
          },
        )
        try {
          return await worker.next<{ type: 'done'; statuses: Record<string, number>; sec: number }>(
            'done',
            requests * 5 + 60_000,
          )
        } finally {
          await worker.stop()
        }
      }
      await load(2000)
      const before = await server.ask<SelfStats>({ type: 'stats', collect: true }, 'stats')
      const done = await load(config.soakRequests)
      await new Promise((r) => setTimeout(r, 1000))
      const after = await server.ask<SelfStats>({ type: 'stats', collect: true }, 'stats')
      contenders[c.name] = {
        status: 'ok',
        label: c.label,
        before: mem(before),
        after: mem(after),
        statuses: done.statuses,
        sec: done.sec,
      }
      ctx.log(`soak ${c.name}: ${JSON.stringify(done.statuses)} in ${done.sec.toFixed(1)} s`)
    } finally {
      await server.stop()
    }
  }
  return { runtime: process.version, requests: config.soakRequests, contenders }
}
