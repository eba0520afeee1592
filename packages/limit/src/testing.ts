/**
 * Test helpers (not exported): a small discrete-time simulation of a service under
 * load, driven by a manual clock, so the algorithms are checked against the behaviour
 * they exist for — capacity found, latency held, overload shed — without real time.
 */

import { manualClock, seededRandom } from '@sturdy/core/testing'
import type { LimitAlgorithm } from './algorithm.ts'
import type { ConcurrencyLimiter, LimitPermit } from './limiter.ts'
import { concurrencyLimiter } from './limiter.ts'

/** One stretch of the simulation with constant load and capacity. */
export interface Phase {
  /** How long it lasts, in ms. */
  readonly ms: number
  /** Mean arrivals per ms (Poisson). */
  readonly arrivalsPerMs: number
  /** Cores: how many requests make CPU progress at full speed at once (processor sharing beyond). */
  readonly cores: number
  /** CPU time each request needs alone, in ms. */
  readonly cpuMs: number
  /** Uncontended wait each request has first (I/O), in ms. */
  readonly ioMs: number
  /** Mean of an exponentially distributed extra wait per request (a noisy machine), ms. @default 0 */
  readonly noiseMs?: number
}

/** What happened in one phase (latency figures from its second half, once settled). */
export interface PhaseResult {
  readonly admitted: number
  readonly shed: number
  /** Requests finished per ms over the whole phase. */
  readonly throughputPerMs: number
  /** The service's capacity in the phase: cores / cpuMs. */
  readonly capacityPerMs: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly minLimit: number
  readonly maxLimit: number
  readonly finalLimit: number
  /** Mean limit over the second half. */
  readonly meanLimit: number
}

interface Job {
  io: number
  cpu: number
  readonly start: number
  readonly permit: LimitPermit
}

/**
 * Runs phases against a limiter built on `algorithm` (or a given limiter) with a
 * manual clock stepped 0.25 ms at a time.
 */
export function simulate(
  algorithm: LimitAlgorithm,
  phases: readonly Phase[],
  seed = 1,
): { results: PhaseResult[]; limiter: ConcurrencyLimiter; limits: number[] } {
  const clock = manualClock(0)
  const limiter = concurrencyLimiter({ limit: algorithm, clock })
  const random = seededRandom(seed)
  const dt = 0.25
  const jobs: Job[] = []
  const limits: number[] = []
  const results: PhaseResult[] = []
  for (const phase of phases) {
    let admitted = 0
    let shed = 0
    let finished = 0
    const latencies: number[] = []
    const phaseLimits: number[] = []
    const steps = Math.round(phase.ms / dt)
    for (let step = 0; step < steps; step++) {
      const now = clock.now()
      // Poisson arrivals in this step, by inversion on a small mean.
      let arrivals = 0
      const mean = phase.arrivalsPerMs * dt
      for (let p = Math.exp(-mean), u = random(), acc = p, k = 0; u > acc && k < 100; ) {
        k++
        p *= mean / k
        acc += p
        arrivals = k
      }
      for (let i = 0; i < arrivals; i++) {
        const permit = limiter.tryAcquire()
        if (permit === undefined) {
          shed++
          continue
        }
        admitted++
        const noise = phase.noiseMs === undefined ? 0 : -phase.noiseMs * Math.log(1 - random())
        jobs.push({ io: phase.ioMs + noise, cpu: phase.cpuMs, start: now, permit })
      }
      // Processor sharing among the jobs in their CPU part.
      const computing = jobs.filter((j) => j.io <= 0).length
      const speed = computing === 0 ? 1 : Math.min(1, phase.cores / computing)
      clock.advance(dt)
      for (let i = jobs.length - 1; i >= 0; i--) {
        const job = jobs[i] as Job
        if (job.io > 0) job.io -= dt
        else job.cpu -= dt * speed
        if (job.cpu <= 1e-9) {
          jobs.splice(i, 1)
          finished++
          if (step >= steps / 2) latencies.push(clock.now() - job.start)
          job.permit.release()
        }
      }
      limits.push(limiter.limit)
      if (step >= steps / 2) phaseLimits.push(limiter.limit)
    }
    latencies.sort((a, b) => a - b)
    const pick = (q: number): number =>
      latencies.length === 0
        ? Number.NaN
        : (latencies[Math.floor(q * (latencies.length - 1))] as number)
    const tail = limits.slice(-steps)
    results.push({
      admitted,
      shed,
      throughputPerMs: finished / phase.ms,
      capacityPerMs: phase.cores / phase.cpuMs,
      p50Ms: pick(0.5),
      p99Ms: pick(0.99),
      minLimit: Math.min(...tail),
      maxLimit: Math.max(...tail),
      finalLimit: limiter.limit,
      meanLimit: phaseLimits.reduce((a, b) => a + b, 0) / Math.max(1, phaseLimits.length),
    })
  }
  return { results, limiter, limits }
}
