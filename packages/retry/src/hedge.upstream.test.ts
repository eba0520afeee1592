/**
 * Hedging against a real upstream on 127.0.0.1, with real timers and fetch. The upstream
 * answers every 10th request it receives after 1 s and the others after 2 ms plus an
 * exponential delay (mean 8 ms, drawn from a seeded source): a slow tail on a right-skewed
 * body, as real services have. Figures are ratios measured in the same run, so a busy
 * machine slows both sides alike.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { seededRandom } from '@sturdy/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import type { HedgePolicy } from './index.ts'
import { hedge, retryBudget } from './index.ts'

interface Upstream {
  readonly url: string
  /** Requests received. */
  arrivals: number
  /** Requests whose connection closed before the answer was sent (aborted by the caller). */
  abandoned: number
  close(): Promise<void>
}

const upstreams: Upstream[] = []
afterEach(async () => {
  await Promise.all(upstreams.splice(0).map((u) => u.close()))
})

async function slowTailUpstream(latency: (arrival: number) => number | 'hang'): Promise<Upstream> {
  const timers = new Set<NodeJS.Timeout>()
  const state = { arrivals: 0, abandoned: 0 }
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const ms = latency(state.arrivals++)
    let timer: NodeJS.Timeout | undefined
    res.on('close', () => {
      if (!res.writableFinished) state.abandoned++
      if (timer !== undefined) {
        clearTimeout(timer)
        timers.delete(timer)
      }
    })
    req.resume()
    if (ms === 'hang') return
    timer = setTimeout(() => {
      timers.delete(timer as NodeJS.Timeout)
      res.end('ok')
    }, ms)
    timers.add(timer)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    get arrivals() {
      return state.arrivals
    },
    set arrivals(n) {
      state.arrivals = n
    },
    get abandoned() {
      return state.abandoned
    },
    set abandoned(n) {
      state.abandoned = n
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t)
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Runs `n` calls with `concurrency` in flight; returns each call's latency in ms. */
async function load(n: number, concurrency: number, call: () => Promise<void>): Promise<number[]> {
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

async function get(url: string, signal?: AbortSignal): Promise<void> {
  const res = await fetch(url, { signal })
  await res.text()
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = performance.now() + ms
  while (!check() && performance.now() < end) await new Promise((r) => setTimeout(r, 5))
}

describe('hedge() against a slow-tail upstream on 127.0.0.1', () => {
  it("at the p90 delay, the caller's p99 is below 1.5× the upstream's p90, and extra load stays within the budget", async () => {
    // Two identical upstreams, one per stream, so each sees exactly its own every-10th
    // slow answer; the unhedged and the hedged stream run at the same time, so a stall of
    // this (shared, busy) machine lands on both.
    const slowTail = (seed: number) => {
      const random = seededRandom(seed)
      return (arrival: number) => (arrival % 10 === 9 ? 1000 : 5 - 25 * Math.log(1 - random()))
    }
    const plain = await slowTailUpstream(slowTail(2024))
    const up = await slowTailUpstream(slowTail(2024))
    upstreams.push(plain, up)

    const ratio = 0.3
    const floorPerSecond = 1
    const budget = retryBudget({ ratio, minRetriesPerSecond: floorPerSecond, ttlMs: 10_000 })
    const policy: HedgePolicy = hedge({
      percentile: 90,
      maxHedgedAttempts: 2,
      delayMs: 100,
      budget,
    }).forKey(up.url)
    let hedges = 0
    let won = 0
    policy.events.on('hedge', () => hedges++)
    policy.events.on('hedgeWon', () => won++)
    const hedged = () => policy.execute(({ signal }) => get(up.url, signal))

    const [baseline, measured] = await Promise.all([
      load(200, 5, () => get(plain.url)),
      // The first 100 calls warm the delay up from delayMs to the measured p90.
      load(100, 5, hedged).then(() => load(300, 5, hedged)),
    ])
    const upstreamP90 = percentile(baseline, 90)
    const callerP99 = percentile(measured, 99)

    // The upstream alone: every 10th answer takes 1 s, so its own p99 is the slow tail.
    expect(percentile(baseline, 99)).toBeGreaterThanOrEqual(1000)
    expect(policy.delayMs()).toBeLessThan(upstreamP90)
    expect(callerP99).toBeLessThan(1.5 * upstreamP90)
    // Extra load: what the upstream received beyond one request per call. A hedge sent
    // just before the winner answered may be aborted before its request left, hence ≤.
    const calls = 400
    expect(up.arrivals - calls).toBeLessThanOrEqual(hedges)
    expect(hedges).toBeLessThanOrEqual(ratio * calls + floorPerSecond * 10)
    // Every lost attempt was aborted: the upstream saw its connection close unanswered.
    await until(() => up.abandoned >= won)
    expect(up.abandoned).toBeGreaterThanOrEqual(won)
    expect(won).toBeGreaterThan(0)
  }, 60_000)

  it('with the budget spent, no hedge is sent: the slow tail comes back instead of extra load', async () => {
    const up = await slowTailUpstream((arrival) => (arrival % 4 === 3 ? 300 : 2))
    upstreams.push(up)
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 0.2, ttlMs: 10_000 }) // 2 hedges
    const policy = hedge({ delayMs: 20, budget })
    let refused = 0
    let hedges = 0
    policy.events.on('budgetExhausted', () => refused++)
    policy.events.on('hedge', () => hedges++)
    const latencies = await load(40, 4, () => policy.execute(({ signal }) => get(up.url, signal)))
    // The budget's two hedges were spent, and no more. On a busy machine a hedge can lose
    // to its primary before its request leaves (aborted while connecting), so the upstream
    // may see fewer extra requests than hedges sent, never more.
    expect(hedges).toBeGreaterThanOrEqual(1)
    expect(hedges).toBeLessThanOrEqual(2)
    expect(up.arrivals - 40).toBeLessThanOrEqual(hedges)
    expect(refused).toBeGreaterThan(0)
    expect(Math.max(...latencies)).toBeGreaterThanOrEqual(300)
  }, 30_000)

  it("losers are aborted: the upstream sees the first attempt's connection close", async () => {
    const up = await slowTailUpstream((arrival) => (arrival === 0 ? 'hang' : 5))
    upstreams.push(up)
    const policy = hedge({ delayMs: 30 })
    const attempts: number[] = []
    await policy.execute(async ({ signal, attempt }) => {
      attempts.push(attempt)
      await get(up.url, signal)
    })
    expect(attempts).toEqual([1, 2])
    await until(() => up.abandoned === 1)
    expect(up.abandoned).toBe(1)
    expect(up.arrivals).toBe(2)
  }, 10_000)
})
