/**
 * Issue #17's acceptance test, through the client: a slow-tail upstream on 127.0.0.1
 * (every 10th answer takes 1 s, the others 5 ms plus an exponential delay of mean 25 ms
 * drawn from a seeded source). Hedging at the p90 delay brings the caller's p99 below
 * 1.5× the upstream's p90, with extra load within the budget ratio. Two identical
 * upstreams, one hedged origin and one plain origin of the same client, loaded at the
 * same time: a stall of this shared, busy machine lands on both, and the figures
 * compared are ratios measured in the same run.
 */

import { seededRandom } from '@sturdy/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { createClient } from './index.ts'
import type { TestServer } from './testing.ts'
import { delay, json, startServer } from './testing.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

interface Upstream extends TestServer {
  abandoned(): number
}

async function slowTail(seed: number): Promise<Upstream> {
  const random = seededRandom(seed)
  const timers = new Set<NodeJS.Timeout>()
  let abandoned = 0
  let arrivals = 0
  const s = await startServer((req, res) => {
    const n = arrivals++
    const ms = n % 10 === 9 ? 1000 : 5 - 25 * Math.log(1 - random())
    const timer = setTimeout(() => {
      timers.delete(timer)
      json(res, 200, { n })
    }, ms)
    timers.add(timer)
    res.on('close', () => {
      if (!res.writableFinished) abandoned++
      clearTimeout(timer)
      timers.delete(timer)
    })
    req.resume()
  })
  const close = s.close
  cleanup.push(() => {
    for (const t of timers) clearTimeout(t)
    return close()
  })
  return Object.assign(s, { abandoned: () => abandoned })
}

/** Runs `n` calls with `concurrency` in flight; returns each call's latency in ms. */
async function load(n: number, concurrency: number, call: () => Promise<unknown>) {
  const latencies: number[] = []
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < n) {
      next++
      const t0 = performance.now()
      await call()
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, lane))
  return latencies
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number
}

describe('client hedging against a slow-tail upstream on 127.0.0.1', () => {
  it("at the p90 delay, the caller's p99 is below 1.5× the upstream's p90, and extra load stays within the budget", async () => {
    const plain = await slowTail(2024)
    const up = await slowTail(2024)
    const ratio = 0.3
    const perSecond = 1
    const c = createClient({
      origins: {
        [up.origin]: {
          // delayMs until 20 latencies are known; the warm-up below fills the window.
          hedge: { percentile: 90, maxHedgedAttempts: 2, delayMs: 100 },
          retryBudget: { ratio, minRetriesPerSecond: perSecond, ttlMs: 10_000 },
        },
      },
    })
    cleanup.push(() => c.close())
    const hub = c.policies.find((p) => p.kind === 'hedge')
    if (hub?.kind !== 'hedge') throw new Error('no hedge policy')
    let hedges = 0
    let won = 0
    hub.events.on('hedge', () => hedges++)
    hub.events.on('hedgeWon', () => won++)

    const [baseline, measured] = await Promise.all([
      load(200, 5, () => c.json(`${plain.origin}/`)),
      load(100, 5, () => c.json(`${up.origin}/`)).then(() =>
        load(300, 5, () => c.json(`${up.origin}/`)),
      ),
    ])
    const upstreamP90 = percentile(baseline, 90)
    const callerP99 = percentile(measured, 99)

    // Unhedged, every 10th answer takes 1 s: the upstream's own p99 is the slow tail.
    expect(percentile(baseline, 99)).toBeGreaterThanOrEqual(1000)
    expect(plain.requests()).toBe(200)
    expect(callerP99).toBeLessThan(1.5 * upstreamP90)
    // Extra load: what the upstream received beyond one request per call. A hedge sent
    // just before the winner answered may be aborted before its request left, hence ≤.
    const calls = 400
    expect(up.requests() - calls).toBeLessThanOrEqual(hedges)
    expect(hedges).toBeLessThanOrEqual(ratio * calls + perSecond * 10)
    // Every lost attempt was aborted: the upstream saw its connection close unanswered.
    expect(won).toBeGreaterThan(0)
    for (let i = 0; i < 100 && up.abandoned() < won; i++) await delay(20)
    expect(up.abandoned()).toBeGreaterThanOrEqual(won)
  }, 60_000)
})
