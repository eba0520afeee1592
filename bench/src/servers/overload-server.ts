// Overload: Hono on @hono/node-server with a handler of known cost — CPU (a busy spin of
// BENCH_CPU_MS, in two halves) around an awaited downstream wait (BENCH_IO_MS, a timer),
// the shape of a handler that parses, calls a database, then renders. BENCH_VARIANT
// `none` serves it bare; `limit` mounts @sturdy/limit's concurrencyLimit() first, with its
// defaults (gradientLimit) and /healthz marked never-shed; `capped` the same with
// gradientLimit({ throughputCap: 1.4, initialLimit: 4 }) (the README's recipe for
// handlers that use the CPU); `capped-early` the recipe with shedEarly() from
// @sturdy/limit/node in front of the listener, so refusals are answered before Hono.
import { createServer } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { getRequestListener } from '@hono/node-server'
import type { Exchange, Middleware } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import type { ConcurrencyLimitMiddleware } from '@sturdy/limit'
import { shedEarly } from '@sturdy/limit/node'
import { Hono } from 'hono'
import { announce, port, send } from '../lib/entry.ts'
import { serveHono } from '../lib/hono-app.ts'
import { Wiring } from '../lib/sturdy.ts'

const variant = process.env.BENCH_VARIANT ?? 'none'
/** The recipe, with or without the listener gate. */
const recipe = variant === 'capped' || variant === 'capped-early'
const cpuMs = Number(process.env.BENCH_CPU_MS ?? 1)
const ioMs = Number(process.env.BENCH_IO_MS ?? 2)

function spin(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // Busy: this is the handler's CPU cost.
  }
}

type LimitMiddleware = Middleware & {
  stats(): { limit: number; inflight: number; queued: number }
  events: { on(event: 'shed', fn: () => void): () => void }
}

const wiring = new Wiring()
const app = new Hono()
let limit: LimitMiddleware | undefined
let shed = 0
let makeLimit: ((options: object) => LimitMiddleware) | undefined
if (variant !== 'none') {
  makeLimit = wiring.factory('limit', ['concurrencyLimit'])
  if (makeLimit !== undefined) {
    // BENCH_OVERLOAD_LIMIT (set by the part from the same variable): a fixed bulkhead.
    const fixed = variant === 'limit' ? process.env.BENCH_OVERLOAD_LIMIT : undefined
    const gradient = recipe ? wiring.factory('limit', ['gradientLimit']) : undefined
    limit = makeLimit({
      ...(fixed === undefined ? {} : { limit: Number(fixed) }),
      ...(gradient === undefined
        ? {}
        : { limit: gradient({ throughputCap: 1.4, initialLimit: 4 }) }),
      routes: [{ route: 'GET /healthz', priority: 'never' }],
    })
    limit.events.on('shed', () => {
      shed++
    })
    app.use(sturdy(limit))
    wiring.use(
      fixed !== undefined
        ? `@sturdy/limit concurrencyLimit({ limit: ${fixed} })`
        : gradient !== undefined
          ? '@sturdy/limit concurrencyLimit({ limit: gradientLimit({ throughputCap: 1.4, initialLimit: 4 }) })'
          : '@sturdy/limit concurrencyLimit() (gradientLimit defaults)',
    )
    if (variant === 'capped-early') wiring.use('@sturdy/limit/node shedEarly(limit, listener)')
  }
}
app.get('/work', async (c) => {
  spin(cpuMs / 2)
  await sleep(ioMs)
  spin(cpuMs / 2)
  return c.json({ ok: true })
})
app.get('/healthz', (c) => c.text('ok'))

// A timeline of the limiter and the event loop, sampled every 100 ms during a run.
const delay = monitorEventLoopDelay({ resolution: 10 })
delay.enable()
let timeline: { t: number; limit: number; inflight: number; eldP99Ms: number; shed: number }[] = []
let started = performance.now()
setInterval(() => {
  const s = limit?.stats()
  timeline.push({
    t: Math.round(performance.now() - started),
    limit: s?.limit ?? Number.NaN,
    inflight: s?.inflight ?? Number.NaN,
    eldP99Ms: delay.percentile(99) / 1e6,
    shed,
  })
  delay.reset()
  if (timeline.length > 1000) timeline.shift()
}, 100).unref()

process.on('message', (msg: { type?: string }) => {
  if (msg.type === 'reset') {
    timeline = []
    started = performance.now()
    shed = 0
    send({ type: 'reset' })
  } else if (msg.type === 'timeline') {
    send({ type: 'timeline', points: timeline })
  } else if (msg.type === 'shed-cost') {
    send({ type: 'shed-cost', ...shedCost() })
  }
})

/**
 * What one shed costs the server inside Sturdy: the middleware called directly on a stub
 * exchange with the limit full, so the figure is the decision and the answer hand-off
 * alone (no HTTP parsing, which every request pays anyway).
 */
function shedCost(): { nsPerShed: number; bytesPerShed: number } {
  if (makeLimit === undefined) return { nsPerShed: Number.NaN, bytesPerShed: Number.NaN }
  const mw = makeLimit({ limit: 1, deadline: true })
  let answered = 0
  const ex = {
    method: 'GET',
    path: '/work',
    deadline: undefined,
    aborted: false,
    header: () => undefined,
    respond: () => {
      answered++
    },
  } as unknown as Exchange
  // Fill the one slot with a request that never finishes.
  void mw(ex, () => new Promise<void>(() => {}))
  const next = () => Promise.resolve()
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 50_000; i++) void mw(ex, next)
  gc?.()
  const heapBefore = process.memoryUsage().heapUsed
  const n = 500_000
  const t0 = performance.now()
  for (let i = 0; i < n; i++) void mw(ex, next)
  const ns = ((performance.now() - t0) * 1e6) / n
  const bytes = (process.memoryUsage().heapUsed - heapBefore) / n
  if (answered < n) throw new Error('shed-cost: the limit did not shed')
  return { nsPerShed: ns, bytesPerShed: bytes }
}

if (variant === 'capped-early' && limit !== undefined) {
  const gated = limit as unknown as ConcurrencyLimitMiddleware
  const server = createServer(shedEarly(gated, getRequestListener(app.fetch)))
  server.listen(port(), '127.0.0.1', () => announce(server, wiring))
} else {
  serveHono(app, wiring)
}
