import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BUILD_DIR } from '../build.ts'
import { type Child, startChild } from '../child.ts'
import type { RuntimeName } from '../config.ts'
import type { Runtime } from '../runtimes.ts'
import { type Summary, summarize } from '../stats.ts'
import type { LoadResult } from '../wrk.ts'
import { available, type PartContext, rotate, selected, type Unmeasured } from './context.ts'

/** An HTTP contender: one small server file, started as its own process. */
export interface HttpContender {
  readonly name: string
  readonly label: string
  /** `core` runs on every runtime; `attribution` only on the attribution runtimes. */
  readonly group: 'core' | 'attribution'
  /** A Sturdy contender (its pieces may be missing while packages are written). */
  readonly sturdy?: boolean
  /** Sturdy packages without which the contender means nothing (an adapter). */
  readonly requires?: readonly string[]
}

/** Every HTTP contender. The server file is `src/servers/http-<name>.ts`. */
export const HTTP_CONTENDERS: readonly HttpContender[] = [
  { name: 'bare-node', label: 'bare node:http', group: 'core' },
  { name: 'bare-hono', label: 'bare Hono', group: 'core' },
  { name: 'sturdy-hono-stack', label: 'Hono + full Sturdy stack', group: 'core', sturdy: true },
  { name: 'anchor-hono-stack', label: 'Hono + anchor stack', group: 'core' },
  {
    name: 'node-stack',
    label: 'hand-written full stack on raw node:http (the practical ceiling)',
    group: 'core',
  },
  {
    name: 'hono-handwritten-stack',
    label: 'hand-written full stack as one Hono middleware',
    group: 'core',
  },
  {
    name: 'express-sturdy',
    label: 'Express 5 + Sturdy (logger, metrics)',
    group: 'core',
    sturdy: true,
    requires: ['express'],
  },
  {
    name: 'express-anchor-stack',
    label: 'Express 5 + pino-http + express-prom-bundle',
    group: 'core',
  },
  {
    name: 'fastify-sturdy',
    label: 'Fastify 5 + Sturdy (logger, metrics)',
    group: 'core',
    sturdy: true,
    requires: ['fastify'],
  },
  { name: 'fastify-anchor-stack', label: 'Fastify 5 + logger + fastify-metrics', group: 'core' },
  { name: 'hono-empty-mw', label: 'Hono + one empty middleware', group: 'attribution' },
  {
    name: 'hono-empty-mw-als',
    label: 'Hono + empty middleware in context.with(), OTel SDK (ALS)',
    group: 'attribution',
  },
  { name: 'sturdy-hono-logger', label: '@sturdy/logger alone', group: 'attribution', sturdy: true },
  { name: 'anchor-hono-logger', label: 'hono/request-id + hono-pino', group: 'attribution' },
  {
    name: 'sturdy-hono-metrics',
    label: '@sturdy/metrics alone',
    group: 'attribution',
    sturdy: true,
  },
  { name: 'anchor-hono-metrics', label: '@hono/prometheus alone', group: 'attribution' },
  {
    name: 'sturdy-hono-tracing',
    label: '@sturdy/tracing alone',
    group: 'attribution',
    sturdy: true,
  },
  { name: 'anchor-hono-tracing', label: '@hono/otel alone', group: 'attribution' },
  {
    name: 'sturdy-hono-deadline',
    label: '@sturdy/timeout deadline() alone',
    group: 'attribution',
    sturdy: true,
  },
  { name: 'anchor-hono-deadline', label: 'hono/timeout alone', group: 'attribution' },
  {
    name: 'sturdy-hono-lifecycle',
    label: '@sturdy/lifecycle middleware() alone (probes + in-flight tracking)',
    group: 'attribution',
    sturdy: true,
  },
  { name: 'express-bare', label: 'bare Express 5', group: 'attribution' },
  { name: 'fastify-bare', label: 'bare Fastify 5', group: 'attribution' },
]

/** What was measured for one HTTP contender on one runtime. */
export interface HttpMeasured {
  readonly status: 'ok'
  readonly label: string
  readonly stack: readonly string[]
  /** Pieces that could not be wired; non-empty means the contender is partial. */
  readonly missing: readonly string[]
  readonly reqPerSec: Summary
  readonly p50Ms: Summary | undefined
  readonly p99Ms: Summary | undefined
  /**
   * Server CPU microseconds (user + system) per request. Unlike req/s it moves little when
   * other processes share the core, so it is the figure to check a noisy run against.
   */
  readonly cpuUsPerReq: Summary | undefined
  /** RSS after the last round (MB). */
  readonly rssMb: number
  /** Peak RSS over the run (MB), when the OS tells. */
  readonly peakRssMb: number | undefined
  readonly heapUsedMb: number
  /** Non-2xx responses and socket errors summed over all rounds: must be 0. */
  readonly errors: number
  /** Evidence the stack did its work: spans exported, log bytes written. */
  readonly checks: Readonly<Record<string, number>>
}

export type HttpResult = HttpMeasured | (Unmeasured & { readonly label: string })

/** The HTTP part's results: per runtime, per contender. */
export type HttpResults = Partial<Record<RuntimeName, Record<string, HttpResult>>>

interface Running {
  readonly contender: HttpContender
  readonly child: Child
  readonly url: string
  readonly stack: readonly string[]
  readonly missing: readonly string[]
  readonly samples: LoadResult[]
  /** Server CPU time per request, per round: robust when other processes steal the core. */
  readonly cpuUsPerReq: number[]
  failure?: string
}

const MB = 1024 * 1024

/**
 * Runs the HTTP part: for each runtime, starts every contender (each its own process,
 * pinned to the server CPU), checks its response, warms it up, then runs interleaved
 * rounds of load from the load CPU. RSS is read after the last round.
 */
export async function runHttp(ctx: PartContext): Promise<HttpResults> {
  const results: HttpResults = {}
  const { config } = ctx
  for (const name of config.runtimes) {
    const runtime = ctx.runtimes[name]
    if (!('node' in runtime)) {
      results[name] = Object.fromEntries(
        HTTP_CONTENDERS.map((c) => [
          c.name,
          { status: 'null', reason: runtime.reason, label: c.label },
        ]),
      )
      continue
    }
    results[name] = await runOnRuntime(ctx, runtime)
  }
  return results
}

async function runOnRuntime(
  ctx: PartContext,
  runtime: Runtime,
): Promise<Record<string, HttpResult>> {
  const { config } = ctx
  const out: Record<string, HttpResult> = {}
  const attribution = available(ctx, config.attributionRuntimes).some(
    (r) => r.name === runtime.name,
  )
  const logDir = join(tmpdir(), `sturdy-bench-logs-${process.pid}`)
  mkdirSync(logDir, { recursive: true })
  const running: Running[] = []
  try {
    // Servers start concurrently (their start-up is mostly module loading), then are
    // checked and kept in the declared order.
    const wanted = HTTP_CONTENDERS.filter(
      (c) => selected(ctx, c.name) && (c.group === 'core' || attribution),
    )
    const outcomes = await Promise.all(
      wanted.map(async (contender): Promise<Running | HttpResult> => {
        const lacking = (contender.requires ?? []).filter(
          (p) => ctx.availability.missing[p] !== undefined,
        )
        if (lacking.length > 0) {
          const reason = lacking.map((p) => ctx.availability.missing[p]).join('; ')
          return { status: 'null', reason, label: contender.label }
        }
        const started = await start(ctx, runtime, contender, logDir).catch((error: Error) => error)
        if (started instanceof Error) {
          return {
            status: 'null',
            reason: `failed to start: ${firstLine(started)}`,
            label: contender.label,
          }
        }
        const sturdyPieces = started.stack.filter((s) => s.startsWith('@sturdy/'))
        if (contender.sturdy === true && sturdyPieces.length === 0) {
          await started.child.stop()
          return {
            status: 'null',
            reason: `no Sturdy piece could be wired: ${started.missing.join('; ')}`,
            label: contender.label,
          }
        }
        return started
      }),
    )
    wanted.forEach((contender, i) => {
      const outcome = outcomes[i] as Running | HttpResult
      if ('child' in outcome) running.push(outcome)
      else out[contender.name] = outcome
    })
    ctx.log(`http ${runtime.name}: ${running.map((r) => r.contender.name).join(', ')}`)
    if (config.warmupSec > 0) {
      for (const r of running) {
        await ctx
          .loadGenerator()
          .run(r.url, config.warmupSec, config.connections, config.loadCpu)
          .catch((error: Error) => {
            r.failure = `warm-up failed: ${firstLine(error)} ${r.child.stderr().slice(-300)}`
          })
      }
    }
    for (let round = 0; round < config.rounds; round++) {
      for (const r of rotate(running, round)) {
        if (r.failure !== undefined) continue
        try {
          const before = await r.child.ask<{ type: 'stats'; cpuUs: number }>(
            { type: 'stats' },
            'stats',
          )
          const result = await ctx
            .loadGenerator()
            .run(r.url, config.durationSec, config.connections, config.loadCpu)
          const after = await r.child.ask<{ type: 'stats'; cpuUs: number }>(
            { type: 'stats' },
            'stats',
          )
          r.samples.push(result)
          if (result.requests > 0)
            r.cpuUsPerReq.push((after.cpuUs - before.cpuUs) / result.requests)
        } catch (error) {
          // A contender that crashes under load is reported, not retried into a figure.
          r.failure = `load failed in round ${round + 1}: ${firstLine(error as Error)} ${r.child.stderr().slice(-300)}`
        }
      }
      ctx.log(`http ${runtime.name}: round ${round + 1}/${config.rounds} done`)
    }
    for (const r of running) {
      if (r.failure !== undefined) {
        out[r.contender.name] = { status: 'null', reason: r.failure, label: r.contender.label }
        continue
      }
      const stats = await r.child.ask<{
        type: 'stats'
        rssBytes: number
        peakRssBytes?: number
        heapUsedBytes: number
        extra: Record<string, number>
      }>({ type: 'stats' }, 'stats')
      const reqPerSec = summarize(r.samples.map((s) => s.requestsPerSec))
      if (reqPerSec === undefined) {
        out[r.contender.name] = { status: 'null', reason: 'no sample', label: r.contender.label }
        continue
      }
      out[r.contender.name] = {
        status: 'ok',
        label: r.contender.label,
        stack: r.stack,
        missing: r.missing,
        reqPerSec,
        p50Ms: summarize(r.samples.flatMap((s) => (s.p50Ms === undefined ? [] : [s.p50Ms]))),
        p99Ms: summarize(r.samples.flatMap((s) => (s.p99Ms === undefined ? [] : [s.p99Ms]))),
        cpuUsPerReq: summarize(r.cpuUsPerReq),
        rssMb: stats.rssBytes / MB,
        peakRssMb: stats.peakRssBytes === undefined ? undefined : stats.peakRssBytes / MB,
        heapUsedMb: stats.heapUsedBytes / MB,
        errors: r.samples.reduce((sum, s) => sum + s.non2xx + s.socketErrors, 0),
        checks: stats.extra,
      }
    }
  } finally {
    await Promise.all(running.map((r) => r.child.stop()))
    rmSync(logDir, { recursive: true, force: true })
  }
  return out
}

async function start(
  ctx: PartContext,
  runtime: Runtime,
  contender: HttpContender,
  logDir: string,
): Promise<Running> {
  const file = join(BUILD_DIR, `http-${contender.name}.mjs`)
  const child = startChild(runtime.node, file, ctx.config.serverCpu, {
    BENCH_LOG: join(logDir, `${contender.name}.log`),
    BENCH_LOG_MODE: ctx.config.logMode,
  })
  try {
    const ready = await child.next<{
      type: 'ready'
      port: number
      missing: string[]
      stack: string[]
    }>('ready', 180_000) // generous: all servers start at once on one core
    const url = `http://127.0.0.1:${ready.port}/users/42`
    const res = await fetch(url)
    const body = (await res.json()) as { id?: string }
    if (res.status !== 200 || body.id !== '42') {
      throw new Error(`GET /users/42 answered ${res.status} ${JSON.stringify(body)}`)
    }
    return {
      contender,
      child,
      url,
      stack: ready.stack,
      missing: ready.missing,
      samples: [],
      cpuUsPerReq: [],
    }
  } catch (error) {
    await child.stop()
    throw error
  }
}

function firstLine(error: Error): string {
  return error.message.split('\n').slice(0, 3).join(' ').slice(0, 300)
}
