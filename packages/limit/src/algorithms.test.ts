import { manualClock, seededRandom } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { aimdLimit } from './aimd.ts'
import type { LimitAlgorithm } from './algorithm.ts'
import { fixedLimit } from './algorithm.ts'
import { gradientLimit } from './gradient.ts'
import { gradient2Limit } from './gradient2.ts'
import type { Phase, PhaseResult } from './testing.ts'
import { simulate } from './testing.ts'
import { vegasLimit } from './vegas.ts'

const ALGORITHMS: Record<string, (min: number, max: number) => LimitAlgorithm> = {
  gradient: (min, max) => gradientLimit({ minLimit: min, maxLimit: max, random: seededRandom(3) }),
  vegas: (min, max) => vegasLimit({ minLimit: min, maxLimit: max, random: seededRandom(3) }),
  gradient2: (min, max) => gradient2Limit({ minLimit: min, maxLimit: max }),
  aimd: (min, max) => aimdLimit({ minLimit: min, maxLimit: max, timeoutMs: 50 }),
}

const sample = fc.record({
  rttMs: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constant(0)),
  inflight: fc.integer({ min: 1, max: 5000 }),
  dropped: fc.boolean(),
  gapMs: fc.double({ min: 0, max: 20_000, noNaN: true }),
})

describe('every algorithm', { timeout: 60_000 }, () => {
  for (const [name, make] of Object.entries(ALGORITHMS)) {
    it(`${name}: the limit is always a whole number within [min, max], whatever the samples`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 50 }),
          fc.integer({ min: 0, max: 500 }),
          fc.array(sample, { maxLength: 400 }),
          (min, span, samples) => {
            const algo = make(min, min + span)
            let now = 0
            for (const s of samples) {
              now += s.gapMs
              algo.onSample({ now, rttMs: s.rttMs, inflight: s.inflight, dropped: s.dropped })
              expect(Number.isInteger(algo.limit)).toBe(true)
              expect(algo.limit).toBeGreaterThanOrEqual(min)
              expect(algo.limit).toBeLessThanOrEqual(min + span)
            }
          },
        ),
        { numRuns: 150 },
      )
    })
  }

  it('rejects nonsense bounds with a clear error', () => {
    expect(() => gradientLimit({ minLimit: 0 })).toThrow(/minLimit/)
    expect(() => vegasLimit({ minLimit: 10, maxLimit: 5 })).toThrow(/maxLimit/)
    expect(() => aimdLimit({ backoffRatio: 1.2 })).toThrow(/backoffRatio/)
    expect(() => gradient2Limit({ smoothing: 0 })).toThrow(/smoothing/)
    expect(() => gradientLimit({ tolerance: 0 })).toThrow(/tolerance/)
    expect(() => fixedLimit(0)).toThrow(/limit/)
  })
})

// A service with one core: 1 ms of CPU and 5 ms of I/O per request, so its capacity is
// 1 request/ms and the concurrency that keeps the core busy without queueing is about 6.
const service = { cores: 1, cpuMs: 1, ioMs: 5 }
const quiet: Phase = { ...service, ms: 2000, arrivalsPerMs: 0.3 }
const overload: Phase = { ...service, ms: 6000, arrivalsPerMs: 2 }

// Simulations are CPU work: generous timeouts, so a busy shared machine slows them but
// cannot fail them.
describe('gradientLimit against a simulated service', { timeout: 60_000 }, () => {
  it('under 2× overload keeps goodput >= 90% of capacity and p99 within 2× of the unloaded p99', () => {
    const { results } = simulate(gradientLimit({ random: seededRandom(1) }), [quiet, overload])
    const [calm, loaded] = results as [(typeof results)[0], (typeof results)[0]]
    expect(loaded.shed).toBeGreaterThan(loaded.admitted * 0.5)
    expect(loaded.throughputPerMs / loaded.capacityPerMs).toBeGreaterThanOrEqual(0.9)
    expect(loaded.p99Ms).toBeLessThanOrEqual(2 * calm.p99Ms)
  })

  it('without a limit the same overload queues without bound (the collapse it prevents)', () => {
    const { results } = simulate(fixedLimit(1_000_000), [
      { ...quiet, ms: 500 },
      { ...overload, ms: 1000 },
    ])
    const [calm, loaded] = results as [(typeof results)[0], (typeof results)[0]]
    expect(loaded.shed).toBe(0)
    expect(loaded.p99Ms).toBeGreaterThan(20 * calm.p99Ms)
  })

  it('follows a step change in capacity down and back up, never below its minimum', () => {
    const two = { ...service, cores: 2 }
    const phases: Phase[] = [
      { ...two, ms: 2000, arrivalsPerMs: 0.5 },
      { ...two, ms: 6000, arrivalsPerMs: 4 }, // capacity 2/ms, optimum ~12
      { ...service, ms: 6000, arrivalsPerMs: 4 }, // capacity halves: optimum ~6
      { ...two, ms: 6000, arrivalsPerMs: 4 }, // and comes back
    ]
    const { results, limits } = simulate(
      gradientLimit({ minLimit: 2, random: seededRandom(2) }),
      phases,
    )
    const [, high, low, back] = results as [
      unknown,
      (typeof results)[0],
      (typeof results)[0],
      (typeof results)[0],
    ]
    expect(low.meanLimit).toBeLessThan(high.meanLimit * 0.75)
    expect(back.meanLimit).toBeGreaterThan(low.meanLimit * 1.4)
    for (const r of [high, low, back]) {
      expect(r.throughputPerMs / r.capacityPerMs).toBeGreaterThanOrEqual(0.85)
    }
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(2)
  })

  it('re-measures the minimum RTT when the service gets slower for good', () => {
    const slower: Phase = { ...service, ioMs: 15, ms: 8000, arrivalsPerMs: 2 }
    const { results } = simulate(gradientLimit({ random: seededRandom(4) }), [
      quiet,
      overload,
      slower,
    ])
    const last = results[2] as (typeof results)[0]
    // Optimum is now ~16: a stale minimum (6 ms) would pin the limit near its floor.
    expect(last.meanLimit).toBeGreaterThan(16)
    expect(last.p50Ms).toBeLessThan(2 * 21)
    // The whole phase, the ~2 s it takes to notice, re-measure and grow back included.
    expect(last.throughputPerMs / last.capacityPerMs).toBeGreaterThanOrEqual(0.6)
  })

  it('recovers after overload: at half load nothing is shed once it settles', () => {
    const calm: Phase = { ...service, ms: 4000, arrivalsPerMs: 0.5 }
    const { results } = simulate(gradientLimit({ random: seededRandom(5) }), [
      quiet,
      overload,
      calm,
    ])
    const after = results[2] as (typeof results)[0]
    expect(after.shed).toBeLessThanOrEqual(after.admitted * 0.01)
    expect(after.throughputPerMs).toBeGreaterThan(0.48)
  })

  it('on a noisy machine at moderate load it does not ratchet itself down and shed', () => {
    const noisy: Phase = { ...service, noiseMs: 6, ms: 12_000, arrivalsPerMs: 0.6 }
    const { results, limits } = simulate(gradientLimit({ random: seededRandom(6) }), [
      { ...noisy, ms: 2000, arrivalsPerMs: 0.3 },
      noisy,
    ])
    const loaded = results[1] as (typeof results)[0]
    expect(loaded.shed).toBeLessThanOrEqual(loaded.admitted * 0.01)
    expect(Math.min(...limits.slice(-8000))).toBeGreaterThan(5)
  })

  it('measures the minimum RTT from calls at low concurrency, pinning the limit only at the limit', () => {
    const algo = gradientLimit({ initialLimit: 40, probeLimit: 4, probeSamples: 10 })
    expect(algo.limit).toBe(40)
    // Busy at the limit: calls admitted far above probeLimit say nothing about the unloaded cost.
    for (let i = 0; i < 9; i++) algo.onSample({ now: i, rttMs: 1, inflight: 40, dropped: false })
    expect(algo.limit).toBe(40)
    algo.onSample({ now: 9, rttMs: 1, inflight: 40, dropped: false })
    expect(algo.limit).toBe(4) // pinned until 10 calls at <= 4 in flight have finished
    for (let i = 10; i < 19; i++) algo.onSample({ now: i, rttMs: 10, inflight: 3, dropped: false })
    expect(algo.limit).toBe(4)
    algo.onSample({ now: 19, rttMs: 10, inflight: 1, dropped: false })
    expect(algo.limit).toBe(40) // measured: back where it was
  })

  it('below the limit it never pins: the calls it saw stand in for the minimum', () => {
    const algo = gradientLimit({
      initialLimit: 40,
      probeLimit: 4,
      probeSamples: 10,
      windowMs: 0,
      minWindowSamples: 1,
      smoothing: 1,
      headroom: 0,
      tolerance: 1,
    })
    for (let i = 0; i < 10; i++) algo.onSample({ now: i, rttMs: 20, inflight: 30, dropped: false })
    expect(algo.limit).toBe(40) // never pinned; minimum taken as 20
    algo.onSample({ now: 10, rttMs: 40, inflight: 30, dropped: false }) // twice the minimum
    expect(algo.limit).toBe(20)
  })

  it('below the limit, the calls it saw may lower a known minimum but never raise it', () => {
    // Something in front (a proxy's or a client's connections) holds 30 in flight below a
    // limit of 40, and latency at 30 in flight is 3× the unloaded one. Were the stand-in
    // taken as the minimum, the limit would grow to twice what is in flight and stay there.
    const algo = probingGradient()
    let now = 0
    const sample = (rttMs: number, inflight: number) =>
      algo.onSample({ now: now++, rttMs, inflight, dropped: false })
    for (let i = 0; i < 10; i++) sample(10, 2) // measured at low concurrency: 10 ms
    expect(algo.limit).toBe(40)
    now = 2000 // the next probe is due
    for (let i = 0; i < 11; i++) sample(30, 30) // not reached, no call at <= 4 in flight
    sample(30, 30) // a window: the gradient against the minimum of 10 ms, not 30
    expect(algo.limit).toBe(20) // 40 × clamp(10 / 30, 0.5, 2)
    now = 4000
    for (let i = 0; i < 11; i++) sample(5, 15) // a stand-in below the minimum lowers it
    sample(10, 15)
    expect(algo.limit).toBe(10) // 20 × 5 / 10
  })

  it('a service that got slower below its limit is re-measured once the shrinking limit is reached', () => {
    const algo = probingGradient()
    let now = 0
    // 15 calls want in at once; the limiter lets in at most the limit.
    const sample = (rttMs: number, wanted: number) =>
      algo.onSample({ now: now++, rttMs, inflight: Math.min(wanted, algo.limit), dropped: false })
    for (let i = 0; i < 10; i++) sample(10, 2) // the minimum: 10 ms
    now = 2000 // the service is 3× slower from here on
    for (let i = 0; i < 12; i++) sample(30, 15) // the stand-in keeps 10 ms; one window
    expect(algo.limit).toBe(20)
    sample(30, 15)
    expect(algo.limit).toBe(10) // now the 15 reach it
    now = 4000
    for (let i = 0; i < 11; i++) sample(30, 15) // the next probe is saturated: pinned
    expect(algo.limit).toBe(4)
    for (let i = 0; i < 10; i++) sample(30, 4) // measured at <= 4 in flight: 30 ms
    expect(algo.limit).toBe(10)
    sample(30, 15) // the gradient against the new minimum is 1: the limit holds
    expect(algo.limit).toBe(10)
  })

  it('from a low start, grows 1.3× a window while calls finish at the minimum RTT (4 to 20 in 7)', () => {
    // The README's "start low" promise: a service with room pays well under a second.
    const algo = gradientLimit({ initialLimit: 4, probeSamples: 1 })
    algo.onSample({ now: 0, rttMs: 10, inflight: 1, dropped: false }) // minRtt 10
    const perWindow: number[] = []
    for (let t = 1; t <= 700; t++) {
      algo.onSample({ now: t, rttMs: 10, inflight: algo.limit, dropped: false })
      if (t % 100 === 0) perWindow.push(algo.limit)
    }
    // gradient 1.5 (tolerance × minRtt / median) + headroom 0.1, smoothed by half: × 1.3.
    expect(perWindow).toEqual([5, 6, 8, 11, 14, 19, 25])
  })

  it('moves once per window, by the gradient, smoothed', () => {
    const algo = gradientLimit({
      initialLimit: 20,
      probeSamples: 1,
      windowMs: 100,
      minWindowSamples: 1,
      tolerance: 1,
      headroom: 0,
      smoothing: 1,
    })
    algo.onSample({ now: 0, rttMs: 10, inflight: 1, dropped: false }) // minRtt 10
    expect(algo.limit).toBe(20)
    algo.onSample({ now: 50, rttMs: 20, inflight: 20, dropped: false }) // opens the window
    expect(algo.limit).toBe(20)
    algo.onSample({ now: 150, rttMs: 20, inflight: 20, dropped: false }) // median 20: gradient 0.5
    expect(algo.limit).toBe(10)
  })
})

describe('gradientLimit({ throughputCap })', { timeout: 60_000 }, () => {
  // minRtt 10 ms from the first call; then windows of 100 ms whose calls all finish at the
  // minimum RTT. With tolerance 2 there the gradient alone would double the limit each
  // window, so what holds it is the cap.
  const capped = (cap: number, bounds: { minLimit?: number } = {}) =>
    gradientLimit({
      initialLimit: 20,
      maxLimit: 1000,
      ...bounds,
      probeSamples: 1,
      windowMs: 100,
      minWindowSamples: 1,
      tolerance: 2,
      headroom: 0,
      smoothing: 1,
      throughputCap: cap,
    })
  const window = (
    algo: ReturnType<typeof gradientLimit>,
    start: number,
    calls: number,
    inflight: (limit: number) => number,
  ) => {
    // `calls` finished in [start, start + 100); the window closes on the first of the next.
    for (let i = 0; i < calls; i++) {
      const now = start + (i * 100) / calls
      algo.onSample({ now, rttMs: 10, inflight: inflight(algo.limit), dropped: false })
    }
  }

  it('holds the limit at cap × peak throughput × minimum RTT, a quarter higher one window in 8', () => {
    const algo = capped(1.5)
    algo.onSample({ now: 0, rttMs: 10, inflight: 1, dropped: false }) // minRtt 10 ms
    const seen: number[] = []
    for (let w = 0; w < 10; w++) {
      window(algo, 100 + w * 100, 40, (limit) => limit)
      seen.push(algo.limit)
    }
    window(algo, 1100, 1, (limit) => limit) // closes the last
    seen.push(algo.limit)
    // Two windows to learn the throughput (the gradient doubles meanwhile), then the cap:
    // 0.4 per ms × 10 ms × 1.5 = 6, and 7.5 (rounded: 8) in the 8th capped window.
    expect(seen).toEqual([40, 80, 6, 6, 6, 6, 6, 6, 6, 8, 6])
  })

  it('takes the peak over the last 10 windows: one slow window does not drag it down', () => {
    const algo = capped(1)
    algo.onSample({ now: 0, rttMs: 10, inflight: 1, dropped: false })
    for (const start of [100, 200, 300]) window(algo, start, 50, (limit) => limit)
    expect(algo.limit).toBe(5) // 0.5 per ms × 10 ms
    window(algo, 400, 10, (limit) => limit)
    window(algo, 500, 10, (limit) => limit) // closes a window of 0.1 per ms
    algo.onSample({ now: 600, rttMs: 10, inflight: algo.limit, dropped: false }) // and another
    expect(algo.limit).toBe(5)
  })

  it('does nothing in windows where the limit is not reached', () => {
    const algo = capped(1)
    algo.onSample({ now: 0, rttMs: 10, inflight: 1, dropped: false })
    // 2 calls per 100 ms at 1 in flight: a cap would be 0.2, floored at minLimit.
    for (let w = 0; w < 5; w++) window(algo, 100 + w * 100, 2, () => 1)
    expect(algo.limit).toBe(20)
  })

  it('never goes below minLimit', () => {
    const algo = capped(1, { minLimit: 4 })
    algo.onSample({ now: 0, rttMs: 10, inflight: 1, dropped: false })
    // 5 calls per 100 ms: a cap of 0.5, held at the floor.
    for (let w = 0; w < 4; w++) window(algo, 100 + w * 100, 5, (limit) => limit)
    expect(algo.limit).toBe(4)
  })

  it('rejects a cap that is not positive', () => {
    expect(() => gradientLimit({ throughputCap: 0 })).toThrow(/throughputCap/)
    expect(() => gradientLimit({ throughputCap: Number.NaN })).toThrow(/throughputCap/)
  })

  it('against the simulated service: a dial from goodput to latency, harmless when generous', () => {
    const run = (throughputCap?: number) =>
      simulate(
        gradientLimit({ random: seededRandom(1), ...(throughputCap ? { throughputCap } : {}) }),
        [quiet, overload],
      ).results[1] as PhaseResult
    const plain = run()
    // The simulated core shares its CPU among the requests in it, so every call in flight
    // slows the others: it needs about 10 in flight for 96% of capacity where
    // throughput × minimum RTT says 6. At 2× that product the cap does not bind.
    const generous = run(2)
    expect(generous.throughputPerMs / generous.capacityPerMs).toBeGreaterThanOrEqual(0.9)
    expect(generous.throughputPerMs).toBeGreaterThanOrEqual(plain.throughputPerMs - 0.03)
    // At 1.2× it holds fewer in flight, for a lower p99 and less goodput: here every call
    // in flight slows the others, so the concurrency is not the event loop's to lower.
    const tight = run(1.2)
    expect(tight.meanLimit).toBeLessThan(plain.meanLimit - 2)
    expect(tight.meanLimit).toBeLessThanOrEqual(1.2 * 1.25 * 6 + 1)
    expect(tight.p99Ms).toBeLessThan(plain.p99Ms)
    expect(tight.throughputPerMs / tight.capacityPerMs).toBeGreaterThanOrEqual(0.6)
  })
})

describe('vegasLimit', () => {
  it('grows while there is no queue, shrinks on a long one and on drops', () => {
    const algo = vegasLimit({ initialLimit: 10, random: () => 0.99 })
    algo.onSample({ now: 0, rttMs: 10, inflight: 10, dropped: false }) // no-load RTT
    algo.onSample({ now: 1, rttMs: 10, inflight: 10, dropped: false }) // queue 0: +6·log10(10)
    expect(algo.limit).toBe(16)
    algo.onSample({ now: 2, rttMs: 100, inflight: 16, dropped: false }) // queue 15 > β
    expect(algo.limit).toBe(14) // 16 − log10(16) = 14.8
    const before = algo.limit
    algo.onSample({ now: 3, rttMs: 10, inflight: 16, dropped: true })
    expect(algo.limit).toBeLessThan(before)
  })

  it('does not grow while fewer than half the limit are in use', () => {
    const algo = vegasLimit({ initialLimit: 20, random: () => 0.99 })
    algo.onSample({ now: 0, rttMs: 10, inflight: 2, dropped: false })
    for (let i = 1; i < 50; i++) algo.onSample({ now: i, rttMs: 10, inflight: 2, dropped: false })
    expect(algo.limit).toBe(20)
  })
})

describe('gradient2Limit', () => {
  it('shrinks when the latest RTT is well above the long average, grows by queueSize when not', () => {
    const algo = gradient2Limit({ initialLimit: 50, minLimit: 1, smoothing: 1 })
    for (let i = 0; i < 10; i++) algo.onSample({ now: i, rttMs: 10, inflight: 50, dropped: false })
    expect(algo.limit).toBe(90) // +4 a sample: gradient 1 (10 < 1.5 × 10)
    algo.onSample({ now: 11, rttMs: 100, inflight: 90, dropped: false })
    expect(algo.limit).toBe(49) // 90 × 0.5 + 4
  })
})

describe('aimdLimit', { timeout: 60_000 }, () => {
  it('adds one per busy success and backs off ×0.9 on a drop or a slow call', () => {
    const algo = aimdLimit({ initialLimit: 20, minLimit: 1, timeoutMs: 100 })
    algo.onSample({ now: 0, rttMs: 10, inflight: 10, dropped: false })
    expect(algo.limit).toBe(21)
    algo.onSample({ now: 1, rttMs: 10, inflight: 2, dropped: false }) // app-limited
    expect(algo.limit).toBe(21)
    algo.onSample({ now: 2, rttMs: 10, inflight: 21, dropped: true })
    expect(algo.limit).toBe(18) // 21 × 0.9 = 18.9
    algo.onSample({ now: 3, rttMs: 101, inflight: 21, dropped: false })
    expect(algo.limit).toBe(17)
  })

  it('converges in the simulation too when its timeout is a latency it will not accept', () => {
    const { results } = simulate(aimdLimit({ minLimit: 1, timeoutMs: 12 }), [quiet, overload])
    const loaded = results[1] as (typeof results)[0]
    expect(loaded.shed).toBeGreaterThan(0)
    expect(loaded.p99Ms).toBeLessThan(40)
  })
})

it('the manual clock drives everything: no timer is left behind by a simulation', () => {
  const clock = manualClock()
  expect(clock.pending()).toBe(0)
})

/**
 * A gradient limit of 40 whose arithmetic a test can follow: probes of 10 calls at most 4
 * in flight, due every 1000 ms exactly; a window per sample; the limit moves by the bare
 * gradient (`limit × minRtt / medianRtt`, clamped to [0.5, 2]).
 */
function probingGradient() {
  return gradientLimit({
    initialLimit: 40,
    probeLimit: 4,
    probeSamples: 10,
    probeIntervalMs: 1000,
    probeJitter: 0,
    windowMs: 0,
    minWindowSamples: 1,
    smoothing: 1,
    headroom: 0,
    tolerance: 1,
  })
}
