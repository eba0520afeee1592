import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { closedLoop, quantile } from '../src/load.ts'
import { recordFigures } from '../src/report.ts'
import type { RunningSystem } from '../src/system.ts'
import { startSystem, sumMetric, troubleLines } from '../src/system.ts'

// The example system started once (four processes; starting them costs most of a
// minute on a busy 2-core machine), then each part in turn; the graceful shutdown
// comes last, as it ends the gateway.

const order = JSON.stringify({
  userId: '1',
  items: [{ sku: 'BOOK-1', quantity: 1, priceCents: 1250 }],
  address: { street: '1 Main St', city: 'London', country: 'GB' },
})

let sys: RunningSystem
beforeAll(async () => {
  sys = await startSystem(inject('pgliteTemplate'), {
    common: { BREAKER_OPEN_MS: '1500' },
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
  const status = (await (await fetch(`${sys.url.gateway}/status.json`)).json()) as {
    dependencies: Array<{ name: string; breaker: string; retriesTotal: number }>
  }
  return status.dependencies.find((d) => d.name === name)!
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

    // Hangs first, 10% of charges; errors on 1/3 of the rest: 30% of all.
    await sys.chaos('payments', 'payments-hangs', 'injection-rate', '0.1')
    await sys.chaos('payments', 'payments-errors', 'injection-rate', '0.3333')
    await sys.chaos('payments', '*', 'enabled', 'true')

    // The breaker's state (the status page's JSON), polled while the load runs.
    const states = new Set<string>()
    let polling = true
    const poll = (async () => {
      while (polling) {
        states.add((await dependency('payments')).breaker)
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
        ['unhandled rejections, uncaught exceptions, warnings', String(trouble.length), '0'],
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
