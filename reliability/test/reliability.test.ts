import { once } from 'node:events'
import { createServer } from 'node:http'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { Postgres } from '@sturdy/example/src/testing.ts'
import { startPostgres } from '@sturdy/example/src/testing.ts'
import { keepAliveLoad } from '@sturdy/lifecycle/testing'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CpuTally, cpuMeter } from '../src/cpu.ts'
import type { ProcessSnapshot } from '../src/inspector.ts'
import { closedLoop, openLoop, quantile } from '../src/load.ts'
import { rawRequest } from '../src/raw.ts'
import { recordFigures } from '../src/report.ts'
import type { RunningSystem } from '../src/system.ts'
import { seriesCount, startSystem, sumMetric, troubleLines } from '../src/system.ts'

// The example system started once (four processes; starting them costs most of a
// minute on a busy 2-core machine), then each part in turn; the graceful shutdown
// comes last, as it ends the gateway.

const order = JSON.stringify({
  userId: '1',
  items: [{ sku: 'BOOK-1', quantity: 1, priceCents: 1250 }],
  address: { street: '1 Main St', city: 'London', country: 'GB' },
})

let sys: RunningSystem
let pg: Postgres | undefined
beforeAll(async () => {
  // PostgreSQL, as in production: PGlite (the example's fallback) runs each query
  // synchronously on the service's event loop, which under load delays every timer of
  // the gateway — deadlines included — by the queries queued before it.
  if (inject('apt').postgresql) pg = await startPostgres()
  else console.warn('reliability: PostgreSQL could not be installed; the services use PGlite')
  sys = await startSystem(inject('pgliteTemplate'), {
    ...(pg === undefined ? {} : { databaseUrl: pg.url }),
    common: { BREAKER_OPEN_MS: '1500' },
    // The gateway as in production: an access line per request (and the drain's lines).
    // As behind a Kubernetes Service: keep serving a moment after readiness fails, while
    // the endpoints controller (here keepAliveLoad's probe, slow on a busy machine) notices.
    gateway: { LOG_LEVEL: 'info', DRAIN_DELAY_MS: '2000' },
    inspectGateway: true,
  })
  // Warm up (connections, JIT, the databases' first queries), without deadlines.
  for (let i = 0; i < 20; i++) {
    const a = await fetch(`${sys.url.gateway}/users/1`)
    await a.arrayBuffer()
    const b = await fetch(`${sys.url.gateway}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `warm-${i}` },
      body: order,
    })
    await b.arrayBuffer()
  }
})
afterAll(async () => {
  await sys?.stop()
  await pg?.destroy()
})

// Payments answers 30% of charges with a 503 and leaves 10% hanging (@sturdy/chaos
// through the example's admin endpoint); the gateway takes orders from 16 concurrent
// clients, each order with a 1 s deadline (x-request-timeout-ms).

const DEADLINE_MS = 1000
const BOUND_MS = 250 // every response by deadline + 250 ms
const P99_BOUND_MS = 50 // p99 by deadline + 50 ms
const LOAD_MS = 15_000
const CLIENTS = 16

/** A dependency as the gateway's status page reports it. */
async function dependency(name: string): Promise<{ breaker: string; retriesTotal: number }> {
  // The status page is sheddable: asked again (bounded) while the gateway refuses it.
  for (let i = 0; ; i++) {
    const res = await fetch(`${sys.url.gateway}/status.json`, { signal: AbortSignal.timeout(5000) })
    if (res.status === 200 || i === 20) {
      const status = (await res.json()) as {
        dependencies: Array<{ name: string; breaker: string; retriesTotal: number }>
      }
      return status.dependencies.find((d) => d.name === name)!
    }
    await res.arrayBuffer()
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('chaos: payments 30% 5xx and 10% hangs, the gateway at a 1 s deadline', () => {
  it('answers every order in time, opens the breaker, closes it after, retries within budget', async () => {
    const G = sys.url.gateway
    const place = (i: number) => ({
      method: 'POST',
      path: '/orders',
      headers: {
        'content-type': 'application/json',
        'x-request-timeout-ms': String(DEADLINE_MS),
        'idempotency-key': `chaos-${i}`,
      },
      body: order,
    })
    // Unloaded and healthy first.
    expect(
      (await fetch(`${G}/orders`, { ...place(-1), signal: AbortSignal.timeout(10_000) })).status,
    ).toBe(201)
    const before = await sys.metrics('gateway')

    // Errors first, 30% of charges; hangs on 1/7 of the rest: 10% of all. (The latency
    // control stays off.)
    await sys.chaos('payments', 'payments-errors', 'injection-rate', '0.3')
    await sys.chaos('payments', 'payments-hang', 'injection-rate', '0.1429')
    await sys.chaos('payments', 'payments-errors', 'enabled', 'true')
    await sys.chaos('payments', 'payments-hang', 'enabled', 'true')

    // The breaker's state, polled while the load runs — from the metrics port: the status
    // page is the first thing the gateway's in-flight limit sheds under load.
    const states = new Set<string>()
    let polling = true
    const paymentsOrigin = new RegExp(`"${sys.url.payments.replace(/[.]/g, '\\.')}"`)
    const stateNames = ['closed', 'half-open', 'open', 'isolated']
    const poll = (async () => {
      while (polling) {
        const value = sumMetric(
          await sys.metrics('gateway'),
          'sturdy_breaker_state',
          paymentsOrigin,
        )
        states.add(stateNames[value] ?? `unknown (${value})`)
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    const retriesBefore = (await dependency('payments')).retriesTotal
    const stats = await closedLoop({
      base: G,
      concurrency: CLIENTS,
      durationMs: LOAD_MS,
      shot: place,
      hardTimeoutMs: 10_000,
    })
    polling = false
    await poll
    const during = await sys.metrics('gateway')
    const injected = await sys.metrics('payments')

    const retries = (await dependency('payments')).retriesTotal - retriesBefore

    // Faults stop; after the open period a trial call closes the breaker.
    await sys.chaos('payments', '*', 'enabled', 'false')
    const recoverStart = performance.now()
    let recovered = false
    for (let i = 0; i < 100 && !recovered && performance.now() - recoverStart < 20_000; i++) {
      const res = await fetch(`${G}/orders`, {
        ...place(1_000_000 + i),
        signal: AbortSignal.timeout(10_000),
      })
      await res.arrayBuffer()
      recovered = res.status === 201 && (await dependency('payments')).breaker === 'closed'
      if (!recovered) await new Promise((r) => setTimeout(r, 200))
    }
    const recoverMs = performance.now() - recoverStart

    const origin = sys.url.payments
    const max = Math.max(...stats.latenciesMs)
    const p99 = quantile(stats.latenciesMs, 0.99)
    const p50 = quantile(stats.latenciesMs, 0.5)
    const delta = (name: string, filter?: RegExp) =>
      sumMetric(during, name, filter) - sumMetric(before, name, filter)
    const originFilter = new RegExp(`"${origin.replace(/[.]/g, '\\.')}"`)
    // Attempts at payments (the client's retry policy is named by its origin).
    const attempts = delta('sturdy_retry_attempts_total', originFilter)
    const hedges = delta('sturdy_hedges_total')
    const opened = delta(
      'sturdy_breaker_transitions_total',
      new RegExp(`${originFilter.source}.*to="open"`),
    )
    const injections = sumMetric(injected, 'sturdy_chaos_injections_total')
    const answered = Object.values(stats.statuses).reduce((a, b) => a + b, 0)
    const trouble = Object.values(sys.procs).flatMap(troubleLines)

    const firstAttempts = attempts - retries
    const loadS = stats.durationMs / 1000
    // @sturdy/retry's budget: retries ≤ 20% of requests + 10/s, over a 10 s window.
    const budgetBound = 0.2 * firstAttempts + 10 * (loadS + 10)
    recordFigures(inject('resultsDir'), 'chaos', {
      title: 'Chaos: payments failing and hanging, a 1 s deadline',
      setup: `Payments (POST /charges) answers 30% with 503 and leaves 10% hanging, set through the example's chaos admin (\`PUT /_chaos/...\`). ${CLIENTS} clients place orders back to back for ${LOAD_MS / 1000} s, each with \`x-request-timeout-ms: ${DEADLINE_MS}\`; then the faults stop and orders are placed until one succeeds with the breaker closed.`,
      rows: [
        ['orders sent / answered', `${stats.sent} / ${answered}`, 'all answered'],
        ['statuses', JSON.stringify(stats.statuses), '201, 502, 503 or 504'],
        [
          'requests lost (no response, reset)',
          String(Object.values(stats.errors).reduce((a, b) => a + b, 0)),
          '0',
        ],
        [
          'latency p50 / p99 / max',
          `${p50.toFixed(0)} / ${p99.toFixed(0)} / ${max.toFixed(0)} ms`,
          `p99 ≤ ${DEADLINE_MS + P99_BOUND_MS} ms, max ≤ ${DEADLINE_MS + BOUND_MS} ms`,
        ],
        ['faults injected at payments', String(injections), '> 0'],
        ['breaker states seen during the load', [...states].sort().join(', '), 'opened'],
        ['breaker transitions to open', String(opened), '> 0'],
        [
          'breaker closed again after the faults stopped',
          `${recovered ? 'yes' : 'no'}, after ${(recoverMs / 1000).toFixed(1)} s`,
          'yes, within 20 s',
        ],
        [
          'payments first attempts / retries',
          `${firstAttempts} / ${retries}`,
          `retries ≤ 20% of first attempts + 10/s over the window (${budgetBound.toFixed(0)})`,
        ],
        ['hedged calls', String(hedges), 'the example hedges no call'],
        ['unhandled rejections, uncaught exceptions, warnings', troubleFigure(trouble), '0'],
      ],
    })

    console.log(
      JSON.stringify({
        statuses: stats.statuses,
        maxByStatus: stats.maxByStatus,
        over: stats.latenciesMs.filter((l) => l > DEADLINE_MS + BOUND_MS).length,
        states: [...states],
        opened,
        retries,
        firstAttempts,
        injections,
        recoverMs,
        p50,
        p99,
      }),
    )
    expect(stats.errors).toEqual({})
    expect(answered).toBe(stats.sent)
    for (const status of Object.keys(stats.statuses).map(Number)) {
      expect([201, 502, 503, 504]).toContain(status)
    }
    expect(max).toBeLessThanOrEqual(DEADLINE_MS + BOUND_MS)
    expect(p99).toBeLessThanOrEqual(DEADLINE_MS + P99_BOUND_MS)
    expect(injections).toBeGreaterThan(0)
    expect(opened).toBeGreaterThan(0)
    expect(recovered).toBe(true)
    expect(retries).toBeLessThanOrEqual(budgetBound)
    expect(trouble).toEqual([])
    for (const p of Object.values(sys.procs)) expect(p.child.exitCode).toBeNull()
  })
})

// Offered load at twice the gateway's capacity, in rounds interleaved with capacity runs:
// arrivals at a fixed rate (an open loop: nobody waits for the server), each with a 1 s
// deadline. Goodput: 2xx answered within the deadline, per second. The probes are polled
// meanwhile.

/**
 * Overload rounds, each followed by a capacity run: seven since the night of 2026-12-03
 * (five before, three before that). The rounds of one run spread over 20 points with the
 * host's drift, and the median of five moved by ±5 points from run to run with nothing
 * changed (87–106% over 17 runs); the median of seven moves less, for 24 s more.
 */
const OVERLOAD_ROUNDS = 7
/** The open loop's clock (`openLoop({ tickMs })`): arrivals due within one tick go out together. */
const TICK_MS = 5
/** Length of one overload round; the first `OVERLOAD_SKIP_MS` of it (the limit settling) are not counted. */
const OVERLOAD_MS = 8000
const OVERLOAD_SKIP_MS = 2000
/** Length of one capacity run. */
const CAPACITY_MS = 3000
/**
 * Clients of the capacity runs around the rounds: the survey's largest count, not
 * whichever count served the most in it. Served requests stop rising at about 64 (the
 * gateway's limit floor sits there, so under overload it has at least as many in flight),
 * and a survey window is noisy: once in eleven runs (2026-12-04) 32 clients read best,
 * left the host 20% idle in every capacity run that followed (≈ 700 µs of idle CPU per
 * request served, against ≈ 200 µs with 64), under-read capacity and flattered the rounds
 * (104.9%).
 */
const CAPACITY_CLIENTS = 64
/**
 * The probes as the deploy's kubelet judges them (deploy/k8s/base/gateway.yaml): one
 * unanswered within `timeoutSeconds: 2` is a failure, and the kubelet acts after
 * `failureThreshold` failures in a row, 2 for readiness (3 for liveness: the stricter one
 * is used for both). Polled every 200 ms here, 25 times as often as its 5 s period. Every
 * unanswered probe is reported.
 */
const PROBE_TIMEOUT_MS = 2000
const PROBE_FAILURES_ACTED_ON = 2
/** Load before the capacity survey (the suite's `beforeAll` only sends a few requests). */
const WARM_MS = 10_000

describe('overload: 2× measured capacity', () => {
  // Goodput as a share of capacity, from the first test's run, for the second.
  let goodputRatio: number | undefined
  it('keeps health and readiness answering, with no crash or unhandled error', async () => {
    const G = sys.url.gateway
    const get = () => ({ path: '/users/1', headers: { 'x-request-timeout-ms': '1000' } })
    const capacityRun = async (clients: number) => {
      const m = await closedLoop({
        base: G,
        concurrency: clients,
        durationMs: CAPACITY_MS,
        shot: get,
      })
      return {
        clients,
        served: m.statuses[200] ?? 0,
        perSecond: (m.statuses[200] ?? 0) / (m.durationMs / 1000),
        p99: quantile(m.latenciesMs, 0.99),
      }
    }
    // Capacity is what the gateway serves back to back, warm (JIT, pools, the database's
    // cache), with enough clients to keep it busy (CAPACITY_CLIENTS). Measured cold with 8
    // clients only, it came out at half what the same services served under the overload a
    // minute later: a goodput ratio near 2 that said nothing. Warming takes tens of seconds
    // of load: in 3 s windows of 64 clients, the gateway's CPU per request fell from
    // 2,180 µs to about 900, and users' from 1,770 to about 750, over the first half
    // minute (2026-12-03).
    await closedLoop({ base: G, concurrency: 64, durationMs: WARM_MS, shot: get })
    // The survey: 64 clients first and last, as the system is still warming.
    const survey: Awaited<ReturnType<typeof capacityRun>>[] = []
    for (const clients of [64, 8, 16, 32, 64]) survey.push(await capacityRun(clients))
    const best = survey.reduce((a, b) => (b.perSecond > a.perSecond ? b : a))
    const unloadedP99 = survey[1]!.p99

    const probes: Record<
      string,
      {
        answered: number
        statuses: Record<number, number>
        maxMs: number
        failed: number
        /** Why each unanswered probe failed (the error's name or code). */
        reasons: Record<string, number>
        /** The most unanswered in a row. */
        mostInARow: number
      }
    > = {}
    let probing = true
    // The suite's own event loop: a stall here delays the probes' answers too.
    const suiteDelay = monitorEventLoopDelay({ resolution: 20 })
    suiteDelay.enable()
    const probe = async (path: string) => {
      const r = {
        answered: 0,
        statuses: {} as Record<number, number>,
        maxMs: 0,
        failed: 0,
        reasons: {} as Record<string, number>,
        mostInARow: 0,
      }
      probes[path] = r
      let inARow = 0
      while (probing) {
        const t0 = performance.now()
        try {
          const res = await fetch(`${G}${path}`, {
            signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
          })
          await res.arrayBuffer()
          r.answered++
          r.statuses[res.status] = (r.statuses[res.status] ?? 0) + 1
          r.maxMs = Math.max(r.maxMs, performance.now() - t0)
          inARow = 0
        } catch (error) {
          r.failed++
          const e = error as { name?: string; cause?: { code?: string } }
          const reason = e.cause?.code ?? e.name ?? 'unknown'
          r.reasons[reason] = (r.reasons[reason] ?? 0) + 1
          r.mostInARow = Math.max(r.mostInARow, ++inARow)
        }
        await new Promise((res) => setTimeout(res, 200))
      }
    }
    const probing1 = probe('/healthz')
    const probing2 = probe('/readyz')
    // The gateway's in-flight limit over the run (from its metrics port), for the report.
    const limits: number[] = []
    const limitFilter = /name="gateway-inflight"/
    const sampling = (async () => {
      while (probing) {
        const m = await sys.metrics('gateway')
        limits.push(sumMetric(m, 'sturdy_limit_concurrency_limit', limitFilter))
        await new Promise((res) => setTimeout(res, 500))
      }
    })()
    // Rounds: overload at twice the capacity last measured, then capacity again, so that
    // each overload round sits between two capacity runs. The host's speed drifts (on the
    // shared 2-core machine, capacity read 358 to 931 req/s in runs minutes apart), and a
    // goodput compared with a capacity measured at another moment measures the drift. A
    // round's ratio is its goodput over the mean of the capacities on either side; the
    // check is the median round. The first round's "before" is a capacity run of its own,
    // not the survey's best: the most of five noisy windows reads high, and against it the
    // first round was the lowest of seven in 6 of 15 runs (2026-12-03; about 2 by chance),
    // 89% on average.
    const capacities: number[] = []
    const rounds: {
      rate: number
      goodput: number
      capacity: number
      ratio: number
      load: Awaited<ReturnType<typeof openLoop>>
    }[] = []
    // The CPU each part of the system spent (from /proc) in the capacity runs and in the
    // rounds, per request served: where the refused half's cost lands.
    const meter = cpuMeter({
      gateway: [sys.procs.gateway.pid],
      users: [sys.procs.users.pid],
      ...(pg === undefined ? {} : { postgres: [pg.pid] }),
      'payments and delivery': [sys.procs.payments.pid, sys.procs.delivery.pid],
      // Last: the suite's own process, without the services it started.
      suite: [process.pid],
    })
    const cpu = { capacity: new CpuTally(), rounds: new CpuTally() }
    const measured = async <T>(
      into: CpuTally,
      run: () => Promise<T>,
      served: (t: T) => number,
    ): Promise<T> => {
      const a = meter?.sample()
      const t = await run()
      const b = meter?.sample()
      if (a !== undefined && b !== undefined) into.add(a, b, served(t))
      return t
    }
    const capacityMeasured = () =>
      measured(
        cpu.capacity,
        () => capacityRun(CAPACITY_CLIENTS),
        (c) => c.served,
      )
    try {
      capacities.push((await capacityMeasured()).perSecond)
      for (let r = 0; r < OVERLOAD_ROUNDS; r++) {
        const before = capacities[r]!
        const rate = Math.max(20, Math.round(before * 2))
        const load = await measured(
          cpu.rounds,
          () =>
            openLoop({
              base: G,
              ratePerSecond: rate,
              durationMs: OVERLOAD_MS,
              maxInFlight: 1000,
              tickMs: TICK_MS,
              shot: get,
              hardTimeoutMs: 5000,
            }),
          (l) => l.statuses[200] ?? 0,
        )
        const ok = load.okAtMs.filter((t) => t >= OVERLOAD_SKIP_MS && t < OVERLOAD_MS).length
        const goodput = ok / ((OVERLOAD_MS - OVERLOAD_SKIP_MS) / 1000)
        const after = (await capacityMeasured()).perSecond
        capacities.push(after)
        const capacity = (before + after) / 2
        rounds.push({ rate, goodput, capacity, ratio: goodput / capacity, load })
      }
    } finally {
      probing = false
      await Promise.all([probing1, probing2, sampling])
      suiteDelay.disable()
    }
    const suiteStallMs = suiteDelay.max / 1e6
    const after = await sys.metrics('gateway')
    const shedBy: Record<string, number> = {}
    for (const reason of ['limit', 'queue-full', 'queue-timeout', 'deadline', 'pressure']) {
      const n = sumMetric(
        after,
        'sturdy_limit_shed_total',
        new RegExp(`gateway-inflight.*reason="${reason}"`),
      )
      if (n > 0) shedBy[reason] = n
    }
    const add = (into: Record<string, number>, from: Record<string, number>) => {
      for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v
      return into
    }
    const statuses = rounds.reduce((a, r) => add(a, r.load.statuses), {} as Record<string, number>)
    const errors = rounds.reduce((a, r) => add(a, r.load.errors), {} as Record<string, number>)
    const sent = rounds.reduce((a, r) => a + r.load.sent, 0)
    const skipped = rounds.reduce((a, r) => a + r.load.skipped, 0)
    // The median round (an odd number of rounds: the middle one).
    const ratio = quantile(
      rounds.map((r) => r.ratio),
      0.5,
    )
    // The figure the check used before the rounds: all goodput against the survey's best.
    const againstBest = rounds.reduce((a, r) => a + r.goodput, 0) / rounds.length / best.perSecond
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`
    const cpuCapacity = cpu.capacity.perRequestUs()
    const cpuRounds = cpu.rounds.perRequestUs()
    const cpuLabel: Record<string, string> = {
      postgres: 'PostgreSQL',
      suite: 'the suite (load generator, probes)',
      other: 'the kernel and the rest',
      total: 'the machine in all',
    }
    const cpuFigure =
      meter === undefined
        ? 'not measured: no /proc on this machine'
        : cpu.capacity.served === 0 || cpu.rounds.served === 0
          ? 'not measured: no request served'
          : Object.keys(cpuRounds)
              .map((k) => `${cpuLabel[k] ?? k} ${cpuCapacity[k]} → ${cpuRounds[k]}`)
              .join(', ')
    const trouble = troubleLines(sys.procs.gateway)
    recordFigures(inject('resultsDir'), 'overload', {
      title: 'Overload: twice the measured capacity',
      setup: `Capacity surveyed first: the most served by 64, 8, 16, 32, then 64 clients again, back to back on \`GET /users/1\` (gateway → users over gRPC → ${pg === undefined ? 'PGlite' : 'PostgreSQL'}), ${CAPACITY_MS / 1000} s each, after ${WARM_MS / 1000} s of 64 clients to warm up. Then ${OVERLOAD_ROUNDS} rounds, each arrivals at a fixed rate of twice the capacity last measured for ${OVERLOAD_MS / 1000} s (open loop, sent on a ${TICK_MS} ms tick, at most 1000 in flight; goodput counted after the first ${OVERLOAD_SKIP_MS / 1000} s) followed by a capacity run with ${CAPACITY_CLIENTS} clients (and one before the first), so that each round is compared with the capacity measured on either side of it (the host's speed drifts). Each request with \`x-request-timeout-ms: 1000\`; \`/healthz\` and \`/readyz\` polled every 200 ms throughout: one unanswered within ${PROBE_TIMEOUT_MS / 1000} s is a failure, and the kubelet of \`deploy/k8s\` acts on ${PROBE_FAILURES_ACTED_ON} in a row.`,
      rows: [
        [
          'capacity survey',
          `${best.perSecond.toFixed(0)} req/s with ${best.clients} clients (${survey.map((r) => `${r.clients}: ${r.perSecond.toFixed(0)}`).join(', ')}); p99 with 8 clients ${unloadedP99.toFixed(0)} ms`,
          '—',
        ],
        ...rounds.map((r, i): [string, string, string] => [
          `round ${i + 1}: goodput (2xx/s within the deadline) / capacity on either side`,
          `${r.goodput.toFixed(0)} / ${r.capacity.toFixed(0)} req/s (${capacities[i]!.toFixed(0)} before, ${capacities[i + 1]!.toFixed(0)} after) = ${pct(r.ratio)}; offered ${r.rate} req/s, ${r.load.skipped} of ${r.load.sent + r.load.skipped} arrivals not sent`,
          '—',
        ]),
        [
          'goodput, median round',
          `${pct(ratio)} of capacity (all rounds against the survey's best: ${pct(againstBest)})`,
          "≥ 90% of capacity (the limit issue's target)",
        ],
        ['offered', `${sent} sent, ${skipped} not sent (1000 in flight)`, '2× capacity'],
        ['statuses', JSON.stringify(statuses), '200, or 503/504 problem+json'],
        ['requests lost (no response, reset)', JSON.stringify(errors), '—'],
        ...(['/healthz', '/readyz'] as const).map((path): [string, string, string] => {
          const p = probes[path]!
          return [
            `${path} answered`,
            `${p.answered} (${JSON.stringify(p.statuses)}), ${p.failed} unanswered within ${PROBE_TIMEOUT_MS / 1000} s${p.failed > 0 ? ` (${JSON.stringify(p.reasons)}, at most ${p.mostInARow} in a row)` : ''}, slowest ${p.maxMs.toFixed(0)} ms`,
            `${path === '/healthz' ? 'all 200; ' : ''}never ${PROBE_FAILURES_ACTED_ON} in a row unanswered`,
          ]
        }),
        [
          'CPU per request served, µs (`/proc`): in the capacity runs → in the rounds',
          cpuFigure,
          '—',
        ],
        [
          "the suite's own event loop (load generator and probes)",
          `longest delay ${suiteStallMs.toFixed(0)} ms`,
          '—',
        ],
        ['unhandled rejections, uncaught exceptions, warnings', troubleFigure(trouble), '0'],
      ],
    })
    console.log(
      JSON.stringify({
        survey: survey.map((r) => Math.round(r.perSecond)),
        capacities: capacities.map(Math.round),
        goodputs: rounds.map((r) => Math.round(r.goodput)),
        ratios: rounds.map((r) => Number(r.ratio.toFixed(3))),
        cpuCapacity,
        cpuRounds,
        ratio,
        againstBest,
        statuses,
        errors,
        skipped,
        suiteStallMs,
        limits: limits.map((l) => Math.round(l)),
        shedBy,
        probes,
      }),
    )
    goodputRatio = ratio
    expect(probes['/healthz']!.mostInARow).toBeLessThan(PROBE_FAILURES_ACTED_ON)
    expect(Object.keys(probes['/healthz']!.statuses)).toEqual(['200'])
    expect(probes['/readyz']!.mostInARow).toBeLessThan(PROBE_FAILURES_ACTED_ON)
    expect(trouble).toEqual([])
  }, 240_000) // about 110 s; a slow host stretches each round's drain and capacity run

  // The limit issue's target. On 2 cores shared by the load generator, four services and
  // PostgreSQL, each refused request still costs its HTTP parsing and answer (and twice
  // the generator's work): see reliability/README.md for the measured split.
  it('holds goodput at 90% of capacity or more', () => {
    expect(goodputRatio, 'the overload run did not complete').toBeDefined()
    expect(goodputRatio).toBeGreaterThanOrEqual(0.9)
  })
})

// 100,000 requests through the gateway: a third with a deadline that fires while the
// users call is in flight, a third abandoned by the client mid-request, a third plain.
// The gateway is measured from the inside through its inspector, after full GCs.

const LEAK_REQUESTS = 100_000

describe('leaks: 100,000 requests with deadlines firing and clients aborting', () => {
  it('returns heap, RSS, handles, timers, sockets and listeners to baseline', {
    timeout: 420_000,
  }, async () => {
    const G = sys.url.gateway
    const inspector = sys.inspector!
    const shot = (i: number) =>
      i % 3 === 0
        ? { path: '/users/1', headers: { 'x-request-timeout-ms': String(1 + (i % 5)) } }
        : i % 3 === 1
          ? { path: '/users/1', abortAfterMs: i % 4 }
          : { path: '/users/1' }
    // The same mix, briefly, before the baseline: pools, JIT and lazy state warmed.
    await closedLoop({ base: G, concurrency: 32, total: 3000, shot })
    await settle()
    const baseline = await inspector.snapshot()
    const stats = await closedLoop({
      base: G,
      concurrency: 32,
      total: LEAK_REQUESTS,
      // Bounded: on a machine too busy to send them all in time, the count assertion fails.
      durationMs: 300_000,
      shot,
      hardTimeoutMs: 10_000,
    })
    await settle()
    const after = await inspector.snapshot()
    const timeouts = stats.statuses[504] ?? 0
    const trouble = troubleLines(sys.procs.gateway)
    // A 500 must never come from deadlines and aborts: what the gateway logged for each
    // (error type and message, and its cause's), so the report says which path it was.
    const causes: Record<string, number> = {}
    for (const l of sys.procs.gateway.lines) {
      if (l.status !== 500) continue
      const err = l.err as
        | { type?: string; message?: string; cause?: { type?: string; message?: string } }
        | undefined
      const key = `${err?.type}: ${err?.message}${err?.cause ? ` (cause ${err.cause.type}: ${err.cause.message})` : ''}`
      causes[key] = (causes[key] ?? 0) + 1
    }
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`
    const res = (s: ProcessSnapshot) => JSON.stringify(s.resources)
    recordFigures(inject('resultsDir'), 'leaks', {
      title: 'Leaks: 100,000 requests timing out and abandoned',
      setup: `32 clients send ${LEAK_REQUESTS.toLocaleString('en')} \`GET /users/1\` to the gateway: a third with \`x-request-timeout-ms\` of 1–5 ms (the deadline fires while the gRPC call to users is in flight), a third abandoned by the client 0–3 ms after sending (socket destroyed), a third plain. The gateway runs with \`--inspect=127.0.0.1:<port> --expose-gc\`; the suite reads \`process.memoryUsage()\`, \`process.getActiveResourcesInfo()\` and, with \`Runtime.queryObjects\`, every live EventEmitter's listeners and every live AbortSignal, after three full GCs, once after a 3,000-request warm-up of the same mix (baseline) and once after the run, when the clients' sockets have closed.`,
      rows: [
        [
          'requests sent / in',
          `${stats.sent} in ${(stats.durationMs / 1000).toFixed(0)} s`,
          `${LEAK_REQUESTS}`,
        ],
        ['statuses', JSON.stringify(stats.statuses), '—'],
        ['aborted by the client', String(stats.aborted), '—'],
        ['deadline answers (504)', String(timeouts), '> 0'],
        [
          'answers 500 and their causes (the gateway log)',
          `${stats.statuses[500] ?? 0}${Object.keys(causes).length > 0 ? `: ${JSON.stringify(causes)}` : ''}`,
          '0',
        ],
        [
          'heap used, baseline → after',
          `${mb(baseline.heapUsedBytes)} → ${mb(after.heapUsedBytes)}`,
          '≤ baseline + 16 MB',
        ],
        [
          'RSS, baseline → after',
          `${mb(baseline.rssBytes)} → ${mb(after.rssBytes)}`,
          '≤ baseline + 64 MB',
        ],
        ['active resources, baseline', res(baseline), '—'],
        ['active resources, after', res(after), 'none above baseline (handles, timers, sockets)'],
        [
          'EventEmitter listeners, baseline → after',
          `${baseline.emitterListeners} → ${after.emitterListeners}`,
          'at most 10 above baseline',
        ],
        [
          'live AbortSignals (their abort listeners), baseline → after',
          `${baseline.abortSignals} (${baseline.abortListeners}) → ${after.abortSignals} (${after.abortListeners})`,
          'at most 10 above baseline',
        ],
        [
          'MaxListenersExceededWarning, other warnings, unhandled errors',
          troubleFigure(trouble),
          '0',
        ],
      ],
    })
    console.log(
      JSON.stringify({
        stats: { ...stats, latenciesMs: undefined, okAtMs: undefined },
        causes,
        baseline,
        after,
      }),
    )
    expect(stats.sent).toBe(LEAK_REQUESTS)
    expect(timeouts).toBeGreaterThan(0)
    expect(stats.statuses[500] ?? 0, JSON.stringify(causes)).toBe(0)
    expect(after.heapUsedBytes).toBeLessThanOrEqual(baseline.heapUsedBytes + 16 * 2 ** 20)
    expect(after.rssBytes).toBeLessThanOrEqual(baseline.rssBytes + 64 * 2 ** 20)
    // Nothing grew. Fewer is not a leak: an idle database connection open at the baseline
    // may have closed since, with its timer and its socket's listeners (about 20).
    for (const [name, n] of Object.entries(after.resources)) {
      expect(n, name).toBeLessThanOrEqual(baseline.resources[name] ?? 0)
    }
    expect(after.emitterListeners - baseline.emitterListeners).toBeLessThanOrEqual(10)
    expect(after.abortSignals - baseline.abortSignals).toBeLessThanOrEqual(10)
    expect(after.abortListeners - baseline.abortListeners).toBeLessThanOrEqual(10)
    expect(trouble).toEqual([])
  })
})

/** Lets the server see the clients' closes and finish what it was doing (bounded: 6 s). */
async function settle(): Promise<void> {
  const deadline = Date.now() + 6000
  while (Date.now() < deadline) {
    const m = await sys.metrics('gateway')
    if (sumMetric(m, 'http_server_active_requests') === 0) break
    await new Promise((r) => setTimeout(r, 100))
  }
  // Node closes a server socket when the client's FIN arrives; give it a moment.
  await new Promise((r) => setTimeout(r, 1000))
}

// Bad input, each case against the gateway: the right status, problem+json where a body
// comes back, and the gateway healthy afterwards.

interface Case {
  name: string
  expected: string
  got: string
  ok: boolean
}

describe('bad input', () => {
  it('answers every bad request rightly and stays healthy', { timeout: 240_000 }, async () => {
    const G = sys.url.gateway
    const port = Number(new URL(G).port)
    const cases: Case[] = []
    const check = (name: string, expected: string, got: string, ok: boolean) =>
      cases.push({ name, expected, got, ok })
    const isProblem = (res: Response) =>
      res.headers.get('content-type') === 'application/problem+json'
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`${G}${path}`, { headers, signal: AbortSignal.timeout(10_000) })
      return { res, body: await res.text() }
    }
    const post = async (path: string, body: string, headers: Record<string, string>) => {
      const res = await fetch(`${G}${path}`, {
        method: 'POST',
        body,
        headers,
        signal: AbortSignal.timeout(10_000),
      })
      return { res, body: await res.text() }
    }

    // Trace context: never a 4xx or 5xx because of it.
    const traceparents = [
      'garbage',
      '00-00000000000000000000000000000000-0000000000000000-01',
      `00-${'g'.repeat(32)}-${'1'.repeat(16)}-01`,
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      `00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-${'x'.repeat(500)}`,
      '',
    ]
    for (const tp of traceparents) {
      const { res } = await get('/users/1', {
        traceparent: tp,
        tracestate: 'a=b,,,=c,' + 'k=v,'.repeat(100),
      })
      check(
        `traceparent ${JSON.stringify(tp.slice(0, 40))} + bad tracestate`,
        '200',
        String(res.status),
        res.status === 200,
      )
    }
    // Deadline headers: ignored (the route's own budget), never a 5xx.
    for (const [h, v] of [
      ['x-request-timeout-ms', 'abc'],
      ['x-request-timeout-ms', '-5'],
      ['x-request-timeout-ms', '1e999'],
      ['x-request-timeout-ms', '99999999999999999999'],
      ['grpc-timeout', 'xyzS'],
      ['grpc-timeout', '99999999999H'],
      ['connect-timeout-ms', '0x10'],
    ] as const) {
      const { res } = await get('/users/1', { [h]: v })
      check(`${h}: ${v}`, '200 (the route budget applies)', String(res.status), res.status === 200)
    }
    // Oversized headers: Node's 16 KB limit, 431 and the connection closed.
    const big = await rawRequest(port, {
      pieces: [`GET /users/1 HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`],
    })
    check(
      'headers over 16 KB',
      '431, connection closed',
      `${big.statuses.join(',')}${big.closed ? ', closed' : ''}`,
      big.statuses[0] === 431 && big.closed,
    )
    // Invalid JSON, wrong content type.
    {
      const { res } = await post('/users', '{"name": "x", ', { 'content-type': 'application/json' })
      check(
        'invalid JSON',
        '400 problem+json',
        `${res.status} ${res.headers.get('content-type')}`,
        res.status === 400 && isProblem(res),
      )
      const wrong = await post('/users', 'name=x', {
        'content-type': 'application/x-www-form-urlencoded',
      })
      check(
        'wrong content type',
        '415 problem+json',
        `${wrong.res.status} ${wrong.res.headers.get('content-type')}`,
        wrong.res.status === 415 && isProblem(wrong.res),
      )
    }
    // A body over the limit (16 KB on POST /users): declared, and chunked.
    {
      const body = JSON.stringify({ name: 'x', email: 'x@example.com', pad: 'p'.repeat(40_000) })
      const { res } = await post('/users', body, { 'content-type': 'application/json' })
      check(
        'body over the limit, Content-Length',
        '413 problem+json',
        `${res.status} ${res.headers.get('content-type')}`,
        res.status === 413 && isProblem(res),
      )
      const chunk = 'p'.repeat(4000)
      const chunked = await rawRequest(port, {
        pieces: [
          'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
          ...Array.from({ length: 10 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`),
          '0\r\n\r\n',
        ],
      })
      check(
        'body over the limit, chunked',
        '413 problem+json',
        `${chunked.statuses.join(',')} ${chunked.headers['content-type']}`,
        chunked.statuses[0] === 413 &&
          chunked.headers['content-type'] === 'application/problem+json',
      )
    }
    // A slow body: 408 at the deadline (500 ms here), not a 504.
    {
      const slow = await rawRequest(port, {
        pieces: [
          'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nx-request-timeout-ms: 500\r\n\r\n',
          ...Array.from({ length: 30 }, () => ' '),
        ],
        gapMs: 100,
      })
      check(
        'slow body (1 byte / 100 ms, 500 ms deadline)',
        '408 problem+json, at ≈ 500 ms',
        `${slow.statuses.join(',')} ${slow.headers['content-type']} at ${slow.firstByteMs.toFixed(0)} ms`,
        slow.statuses[0] === 408 &&
          slow.headers['content-type'] === 'application/problem+json' &&
          slow.firstByteMs < 500 + 1000,
      )
      const short = await rawRequest(port, {
        pieces: [
          'POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nx-request-timeout-ms: 500\r\n\r\n{"name":"x"}',
        ],
        idleMs: 3000,
      })
      check(
        'body shorter than its Content-Length',
        '408 problem+json at the deadline',
        `${short.statuses.join(',')} ${short.headers['content-type']} at ${short.firstByteMs.toFixed(0)} ms`,
        short.statuses[0] === 408 && short.headers['content-type'] === 'application/problem+json',
      )
    }
    // Request ids: injection attempts are replaced by a fresh id.
    {
      const good = /^[A-Za-z0-9._:-]{1,128}$/
      for (const [name, value] of [
        ['over-long', 'a'.repeat(1000)],
        ['encoded CRLF', 'abc%0d%0aset-cookie:%20x=1'],
        ['spaces and quotes', 'a b"c'],
      ] as const) {
        const { res } = await get('/users/1', { 'x-request-id': value })
        const id = res.headers.get('x-request-id') ?? ''
        check(
          `x-request-id ${name}`,
          '200, a fresh id',
          `${res.status}, ${JSON.stringify(id.slice(0, 40))}`,
          res.status === 200 && id !== value && good.test(id),
        )
      }
      for (const [name, value] of [
        ['bare CR', 'abc\rset-cookie: x=1'],
        ['non-printable', 'abc\x01\x7f'],
      ] as const) {
        const r = await rawRequest(port, {
          pieces: [
            `GET /users/1 HTTP/1.1\r\nHost: x\r\nx-request-id: ${value}\r\nConnection: close\r\n\r\n`,
          ],
        })
        const id = r.headers['x-request-id'] ?? ''
        const ok =
          (r.statuses[0] === 200 && id !== '' && !id.includes('abc')) || r.statuses[0] === 400
        check(
          `x-request-id ${name} (raw)`,
          '200 with a fresh id, or 400 from the parser',
          `${r.statuses.join(',')} ${JSON.stringify(id.slice(0, 40))}`,
          ok && !r.text.toLowerCase().includes('set-cookie'),
        )
      }
    }
    // Odd paths: a 4xx, never a 5xx; problem+json where Hono answers.
    for (const path of [
      '/users/..%2f..%2fetc%2fpasswd',
      '/users/%2e%2e/1',
      '/../../etc/passwd',
      '/users/1%2f2',
      '/users/%00',
      `/users/${'1'.repeat(5000)}`,
      `/${'a/'.repeat(3000)}`,
    ]) {
      const r = await rawRequest(port, {
        pieces: [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
      })
      const s0 = r.statuses[0] ?? 0
      check(
        `path ${JSON.stringify(path.slice(0, 30))}${path.length > 30 ? `… (${path.length} chars)` : ''}`,
        '4xx',
        String(s0),
        s0 >= 400 &&
          s0 < 500 &&
          (r.body === '' || r.headers['content-type'] === 'application/problem+json'),
      )
    }
    // Smuggling: Content-Length with Transfer-Encoding, and an obfuscated Transfer-Encoding.
    {
      const smuggled = 'GET /users/2 HTTP/1.1\r\nHost: x\r\n\r\n'
      const clte = await rawRequest(port, {
        pieces: [
          `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
        ],
      })
      check(
        'Content-Length + Transfer-Encoding',
        '400, one response, connection closed',
        `${clte.statuses.join(',')}${clte.closed ? ', closed' : ''}`,
        clte.statuses.length === 1 && clte.statuses[0] === 400 && clte.closed,
      )
      const tecl = await rawRequest(port, {
        pieces: [
          `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n${smuggled}`,
        ],
      })
      check(
        'Transfer-Encoding + Content-Length',
        '400, one response, connection closed',
        `${tecl.statuses.join(',')}${tecl.closed ? ', closed' : ''}`,
        tecl.statuses.length === 1 && tecl.statuses[0] === 400 && tecl.closed,
      )
      const obf = await rawRequest(port, {
        pieces: [
          `POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n${smuggled}`,
        ],
      })
      check(
        'obfuscated Transfer-Encoding + Content-Length',
        'a 4xx, one response',
        obf.statuses.join(','),
        obf.statuses.length === 1 && (obf.statuses[0] ?? 0) >= 400 && (obf.statuses[0] ?? 0) < 500,
      )
    }
    // 10,000 random URLs: the series count of the gateway's metrics unchanged.
    await get(`/no-such-route-${Math.random()}`)
    const seriesBefore = seriesCount(await sys.metrics('gateway'))
    const random = await closedLoop({
      base: G,
      concurrency: 16,
      total: 10_000,
      durationMs: 60_000,
      shot: () => ({
        path: `/${Math.random().toString(36).slice(2)}/${Math.random().toString(36).slice(2)}?q=${Math.random()}`,
      }),
    })
    const seriesAfter = seriesCount(await sys.metrics('gateway'))
    check(
      '10,000 random URLs',
      `404 each, ${seriesBefore} series before and after`,
      `${JSON.stringify(random.statuses)}, ${seriesAfter} series after`,
      random.statuses[404] === 10_000 && seriesAfter === seriesBefore,
    )

    // Still healthy.
    const health = await get('/healthz')
    const user = await get('/users/1')
    check(
      'afterwards: /healthz, GET /users/1',
      '200, 200',
      `${health.res.status}, ${user.res.status}`,
      health.res.status === 200 && user.res.status === 200,
    )
    const trouble = troubleLines(sys.procs.gateway)
    check(
      'unhandled rejections, uncaught exceptions, warnings',
      '0',
      String(trouble.length),
      trouble.length === 0,
    )

    recordFigures(inject('resultsDir'), 'bad-input', {
      title: 'Bad input',
      setup:
        'Each case against the gateway, through fetch or, for what fetch will not send, a raw TCP socket. A case passes with the status below, problem+json where a body comes back, and the gateway healthy afterwards.',
      rows: cases.map((c) => [`${c.ok ? '✅' : '❌'} ${c.name}`, c.got, c.expected]),
    })
    const failed = cases.filter((c) => !c.ok)
    expect(failed).toEqual([])
  })
})

// SIGTERM in the middle of keep-alive load, the gateway behind a "Service": new
// connections go to another pod once its readiness fails (@sturdy/lifecycle's
// keepAliveLoad). Last, as it ends the gateway.

describe('graceful shutdown under load', () => {
  it('answers every accepted request, resets none, exits within the drain bound', async () => {
    const gw = sys.procs.gateway
    const bound = Number(
      (await gw.waitFor((l) => l.msg === 'metrics listening', 5000)).drain_bound_ms,
    )
    const rest = createServer((_req, res) => res.end('another pod'))
    rest.listen(0, '127.0.0.1')
    await once(rest, 'listening')
    const load = keepAliveLoad({
      target: sys.url.gateway,
      fallback: `http://127.0.0.1:${(rest.address() as { port: number }).port}`,
      clients: 32,
      path: '/users/1',
    })
    let exitMs = Number.NaN
    let code: number | null = null
    let result: Awaited<ReturnType<typeof load.stop>>
    try {
      await load.untilTargetServed(500)
      // A connected inspector holds a process open after process.exit() ("Waiting for
      // the debugger to disconnect"): let go of it first.
      sys.inspector?.close()
      const t0 = performance.now()
      process.kill(gw.pid, 'SIGTERM')
      const timer = setTimeout(() => process.kill(gw.pid, 'SIGKILL'), bound + 10_000)
      code = await gw.exited
      clearTimeout(timer)
      exitMs = performance.now() - t0
    } finally {
      result = await load.stop()
      rest.close()
    }
    const summary = gw.lines.find((l) => l.msg === 'shutdown complete')
    const resets = result.failures.filter((f) => f.kind === 'reset').length
    recordFigures(inject('resultsDir'), 'shutdown', {
      title: 'Graceful shutdown under load',
      setup: `32 keep-alive clients on \`GET /users/1\`, the gateway in rotation until its readiness fails (new connections then go to another "pod"), SIGTERM after 500 answers.`,
      rows: [
        [
          'requests sent / answered',
          `${result.sent} / ${Object.values(result.completed).reduce((a, b) => a + b, 0)}`,
          'all answered',
        ],
        [
          'answered by the gateway / by the other pod',
          `${result.fromTarget} / ${result.fromFallback}`,
          '—',
        ],
        ['statuses', JSON.stringify(result.completed), '—'],
        [
          'connection resets, refused, other failures',
          `${resets}, ${result.failures.filter((f) => f.kind === 'refused').length}, ${result.failures.filter((f) => f.kind === 'other').length}`,
          '0, 0, 0',
        ],
        [
          'exit code, time from SIGTERM to exit',
          `${code}, ${(exitMs / 1000).toFixed(2)} s`,
          `0, within the drain bound (${bound} ms)`,
        ],
        ['shutdown summary', JSON.stringify(summary ?? {}), 'aborted: 0'],
      ],
    })
    expect(result.failures).toEqual([])
    expect(code).toBe(0)
    expect(exitMs).toBeLessThanOrEqual(bound)
    expect(summary).toMatchObject({ exitCode: 0, aborted: 0 })
    expect(troubleLines(gw)).toEqual([])
  })
})

/** The count of trouble lines, with the first two (cut short) when there are any. */
function troubleFigure(trouble: readonly string[]): string {
  if (trouble.length === 0) return '0'
  return `${trouble.length}: \`${trouble.slice(0, 2).join(' ').slice(0, 300).replace(/[|`]/g, ' ')}\``
}
