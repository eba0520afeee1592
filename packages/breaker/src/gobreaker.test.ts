/**
 * sony/gobreaker's own test scenarios (v2 `gobreaker_test.go`), ported to the public
 * API. gobreaker fakes time by rewinding internals (`pseudoSleep`); here a manual clock
 * moves instead, and the open/interval boundary is inclusive: still open at
 * timeout − 1 ms, half-open at the timeout.
 */
import type { BreakerEventMap } from '@sturdy/core'
import { manualClock, seededRandom } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import type { CircuitBreaker, Counts } from './index.ts'
import { BrokenCircuitError, circuitBreaker, isBrokenCircuitError } from './index.ts'

const errFailure = new Error('fail')
const errExcluded = new Error('excluded')

/** Counts with zeros filled in, so expectations read like gobreaker's `Counts{...}`. */
function counts(c: Partial<Counts> = {}): Counts {
  return {
    requests: 0,
    totalSuccesses: 0,
    totalFailures: 0,
    totalExclusions: 0,
    consecutiveSuccesses: 0,
    consecutiveFailures: 0,
    slowCalls: 0,
    ...c,
  }
}

/** Like gobreaker's helpers: resolve to undefined when the call ran, else the breaker's error. */
async function succeed(cb: CircuitBreaker): Promise<unknown> {
  return cb
    .execute(async () => true)
    .then(
      () => undefined,
      (e: unknown) => e,
    )
}
async function fail(cb: CircuitBreaker): Promise<unknown> {
  return cb
    .execute(async () => {
      throw errFailure
    })
    .then(
      () => new Error('unexpected success'),
      (e: unknown) => (e === errFailure ? undefined : e),
    )
}
async function exclude(cb: CircuitBreaker): Promise<unknown> {
  return cb
    .execute(async () => {
      throw errExcluded
    })
    .then(
      () => new Error('unexpected success'),
      (e: unknown) => (e === errExcluded ? undefined : e),
    )
}

/** A call that stays in flight until `resolve()`. */
function succeedLater(cb: CircuitBreaker): { result: Promise<unknown>; resolve: () => void } {
  let resolve = (): void => {}
  const gate = new Promise<void>((r) => {
    resolve = r
  })
  const result = cb
    .execute(() => gate.then(() => true))
    .then(
      () => undefined,
      (e: unknown) => e,
    )
  return { result, resolve }
}

type Change = Pick<BreakerEventMap['stateChange'], 'name' | 'from' | 'to' | 'reason'>

function recordChanges(cb: CircuitBreaker): Change[] {
  const changes: Change[] = []
  cb.events.on('stateChange', (e) => changes.push({ ...e }))
  return changes
}

const ratioTrip = (c: Counts): boolean => {
  const n = c.requests - c.totalExclusions
  return n >= 3 && c.totalFailures / n >= 0.6
}

function newCustom(clock = manualClock()): CircuitBreaker {
  return circuitBreaker({
    name: 'cb',
    maxRequests: 3,
    intervalMs: 30_000,
    openMs: 90_000,
    readyToTrip: ratioTrip,
    outcome: (s) => (s.ok ? 'success' : s.error === errExcluded ? 'excluded' : 'failure'),
    clock,
  })
}

function newRollingWindow(clock = manualClock()): CircuitBreaker {
  return circuitBreaker({
    name: 'rw',
    maxRequests: 3,
    intervalMs: 30_000,
    bucketMs: 3000,
    openMs: 90_000,
    readyToTrip: ratioTrip,
    outcome: (s) => (s.ok ? 'success' : s.error === errExcluded ? 'excluded' : 'failure'),
    clock,
  })
}

describe('gobreaker conformance', () => {
  it('normalises settings like NewCircuitBreaker: maxRequests 0 → 1, interval ≤ 0 never clears, timeout ≤ 0 → 60 s', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({
      name: 'ncb',
      maxRequests: 0,
      intervalMs: -30_000,
      openMs: -90_000,
      clock,
    })
    expect(cb.name).toBe('ncb')
    expect(cb.kind).toBe('breaker')
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts())
    // Interval ≤ 0: counts survive any amount of time in the closed state.
    for (let i = 0; i < 5; i++) expect(await fail(cb)).toBeUndefined()
    clock.advance(10 * 86_400_000)
    expect(cb.counts).toEqual(counts({ requests: 5, totalFailures: 5, consecutiveFailures: 5 }))
    expect(await fail(cb)).toBeUndefined()
    expect(cb.state).toBe('open')
    clock.advance(59_999)
    expect(cb.state).toBe('open')
    clock.advance(1)
    expect(cb.state).toBe('half-open')
    // maxRequests 0 → 1: one trial, a second concurrent call is rejected.
    const trial = succeedLater(cb)
    expect(isBrokenCircuitError(await succeed(cb))).toBe(true)
    trial.resolve()
    expect(await trial.result).toBeUndefined()
    expect(cb.state).toBe('closed')
  })

  it('default breaker: 5 failures stay closed, a success resets the streak, the 6th consecutive failure trips', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock })
    const changes = recordChanges(cb)
    expect(cb.name).toBe('breaker')

    for (let i = 0; i < 5; i++) expect(await fail(cb)).toBeUndefined()
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts({ requests: 5, totalFailures: 5, consecutiveFailures: 5 }))

    expect(await succeed(cb)).toBeUndefined()
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(
      counts({ requests: 6, totalSuccesses: 1, totalFailures: 5, consecutiveSuccesses: 1 }),
    )

    expect(await fail(cb)).toBeUndefined()
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(
      counts({ requests: 7, totalSuccesses: 1, totalFailures: 6, consecutiveFailures: 1 }),
    )

    for (let i = 0; i < 4; i++) expect(await fail(cb)).toBeUndefined()
    expect(cb.state).toBe('closed') // 5 consecutive: not yet
    expect(await fail(cb)).toBeUndefined() // the 6th
    expect(cb.state).toBe('open')
    expect(cb.counts).toEqual(counts())
    expect(changes).toEqual([
      { name: 'breaker', from: 'closed', to: 'open', reason: 'consecutive-failures' },
    ])
  })

  it('open rejects every call, successes and failures alike, without running them or counting', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock })
    for (let i = 0; i < 6; i++) await fail(cb)
    let ran = 0
    for (let i = 0; i < 20; i++) {
      const e = await cb.execute(async () => ++ran).catch((x: unknown) => x)
      expect(e).toBeInstanceOf(BrokenCircuitError)
      expect(e).toMatchObject({ state: 'open', status: 503, code: 'BROKEN_CIRCUIT' })
    }
    expect(isBrokenCircuitError(await fail(cb))).toBe(true)
    expect(ran).toBe(0)
    expect(cb.counts).toEqual(counts())
  })

  it('open → half-open exactly at the timeout: still open at timeout − 1 ms; half-open failure reopens, success closes', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock })
    const changes = recordChanges(cb)
    for (let i = 0; i < 6; i++) await fail(cb)

    clock.advance(59_999)
    expect(cb.state).toBe('open')
    expect(cb.retryAfterMs()).toBe(1)
    const early = await succeed(cb)
    expect(early).toMatchObject({ state: 'open', retryAfterMs: 1 })

    clock.advance(1)
    expect(cb.state).toBe('half-open')
    expect(cb.retryAfterMs()).toBe(0)

    expect(await fail(cb)).toBeUndefined()
    expect(cb.state).toBe('open')
    expect(cb.counts).toEqual(counts())

    clock.advance(60_000)
    expect(cb.state).toBe('half-open')
    expect(await succeed(cb)).toBeUndefined()
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts())
    expect(changes.map((c) => `${c.from}>${c.to}:${c.reason}`)).toEqual([
      'closed>open:consecutive-failures',
      'open>half-open:timeout-elapsed',
      'half-open>open:probe-failed',
      'open>half-open:timeout-elapsed',
      'half-open>closed:probe-succeeded',
    ])
  })

  it('custom breaker: counts with exclusions, interval rollover, ratio trip, neutral exclusions and trial limits in half-open', async () => {
    const clock = manualClock()
    const cb = newCustom(clock)
    const changes = recordChanges(cb)
    expect(cb.name).toBe('cb')

    for (let i = 0; i < 5; i++) {
      expect(await succeed(cb)).toBeUndefined()
      expect(await fail(cb)).toBeUndefined()
      expect(await exclude(cb)).toBeUndefined()
    }
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(
      counts({
        requests: 15,
        totalSuccesses: 5,
        totalFailures: 5,
        consecutiveFailures: 1,
        totalExclusions: 5,
      }),
    )

    clock.advance(29_000)
    expect(await succeed(cb)).toBeUndefined()
    expect(cb.counts).toEqual(
      counts({
        requests: 16,
        totalSuccesses: 6,
        totalFailures: 5,
        consecutiveSuccesses: 1,
        totalExclusions: 5,
      }),
    )

    clock.advance(1000) // the interval has elapsed: a new generation
    expect(await fail(cb)).toBeUndefined()
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts({ requests: 1, totalFailures: 1, consecutiveFailures: 1 }))

    expect(await succeed(cb)).toBeUndefined()
    expect(await fail(cb)).toBeUndefined() // 2/3 ≥ 0.6
    expect(cb.state).toBe('open')
    expect(cb.counts).toEqual(counts())
    expect(changes.at(-1)).toEqual({
      name: 'cb',
      from: 'closed',
      to: 'open',
      reason: 'ready-to-trip',
    })

    clock.advance(90_000)
    expect(cb.state).toBe('half-open')
    expect(changes.at(-1)).toMatchObject({ from: 'open', to: 'half-open' })

    // Excluded trials are neutral: they free their slot and move nothing.
    for (let i = 0; i < 4; i++) expect(await exclude(cb)).toBeUndefined()
    expect(cb.state).toBe('half-open')

    expect(await fail(cb)).toBeUndefined() // first real failure reopens
    expect(cb.state).toBe('open')
    expect(cb.counts).toEqual(counts())
    expect(changes.at(-1)).toEqual({
      name: 'cb',
      from: 'half-open',
      to: 'open',
      reason: 'probe-failed',
    })

    clock.advance(90_000)
    expect(cb.state).toBe('half-open')
    expect(await succeed(cb)).toBeUndefined()
    expect(await succeed(cb)).toBeUndefined()
    expect(cb.state).toBe('half-open')
    expect(cb.counts).toEqual(counts({ requests: 2, totalSuccesses: 2, consecutiveSuccesses: 2 }))

    const third = succeedLater(cb)
    expect(cb.counts).toEqual(counts({ requests: 3, totalSuccesses: 2, consecutiveSuccesses: 2 }))
    const fourth = await succeed(cb) // over maxRequests while the 3rd is in flight
    expect(fourth).toBeInstanceOf(BrokenCircuitError)
    expect(fourth).toMatchObject({ state: 'half-open', breaker: 'cb' })
    third.resolve()
    expect(await third.result).toBeUndefined()
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts())
    expect(changes.at(-1)).toEqual({
      name: 'cb',
      from: 'half-open',
      to: 'closed',
      reason: 'probe-succeeded',
    })
  })

  it('half-open admits at most maxRequests concurrent trials and rejects the rest at once (no queueing)', async () => {
    const clock = manualClock()
    const cb = newCustom(clock)
    for (let i = 0; i < 3; i++) await fail(cb)
    clock.advance(90_000)
    const trials = [succeedLater(cb), succeedLater(cb), succeedLater(cb)]
    const rejected = await Promise.all([succeed(cb), fail(cb), exclude(cb)])
    for (const r of rejected) expect(r).toMatchObject({ state: 'half-open' })
    expect(cb.counts).toEqual(counts({ requests: 3 }))
    for (const t of trials) t.resolve()
    expect(await Promise.all(trials.map((t) => t.result))).toEqual([
      undefined,
      undefined,
      undefined,
    ])
    expect(cb.state).toBe('closed')
  })

  it('rolling window: buckets expire one at a time and the ratio trip sees only the window', async () => {
    const clock = manualClock()
    const cb = newRollingWindow(clock)
    const changes = recordChanges(cb)
    for (let i = 0; i < 5; i++) {
      await succeed(cb)
      await fail(cb)
      await exclude(cb)
    }
    expect(cb.counts).toEqual(
      counts({
        requests: 15,
        totalSuccesses: 5,
        totalFailures: 5,
        consecutiveFailures: 1,
        totalExclusions: 5,
      }),
    )

    clock.advance(3000)
    await succeed(cb)
    expect(cb.counts).toEqual(
      counts({
        requests: 16,
        totalSuccesses: 6,
        totalFailures: 5,
        consecutiveSuccesses: 1,
        totalExclusions: 5,
      }),
    )

    clock.advance(2000)
    await succeed(cb)
    await exclude(cb)
    expect(cb.counts).toEqual(
      counts({
        requests: 18,
        totalSuccesses: 7,
        totalFailures: 5,
        consecutiveSuccesses: 2,
        totalExclusions: 6,
      }),
    )

    clock.advance(2000)
    await exclude(cb)
    await succeed(cb)
    expect(cb.counts).toEqual(
      counts({
        requests: 20,
        totalSuccesses: 8,
        totalFailures: 5,
        consecutiveSuccesses: 3,
        totalExclusions: 7,
      }),
    )

    clock.advance(2000)
    await fail(cb)
    expect(cb.counts).toEqual(
      counts({
        requests: 21,
        totalSuccesses: 8,
        totalFailures: 6,
        consecutiveFailures: 1,
        totalExclusions: 7,
      }),
    )

    for (let i = 0; i < 6; i++) {
      clock.advance(3000)
      await succeed(cb)
      await fail(cb)
      expect(cb.counts).toEqual(
        counts({
          requests: 23 + 2 * i,
          totalSuccesses: 9 + i,
          totalFailures: 7 + i,
          consecutiveFailures: 1,
          totalExclusions: 7,
        }),
      )
    }

    clock.advance(3000) // the first bucket (15 calls) leaves the window
    await fail(cb)
    expect(cb.counts).toEqual(
      counts({
        requests: 19,
        totalSuccesses: 9,
        totalFailures: 8,
        consecutiveFailures: 2,
        totalExclusions: 2,
      }),
    )
    for (let i = 0; i < 5; i++) {
      await fail(cb)
      expect(cb.counts).toEqual(
        counts({
          requests: 20 + i,
          totalSuccesses: 9,
          totalFailures: 9 + i,
          consecutiveFailures: 3 + i,
          totalExclusions: 2,
        }),
      )
    }
    expect(cb.state).toBe('closed')
    await fail(cb) // 14 / 23 ≥ 0.6
    expect(cb.state).toBe('open')
    expect(changes.at(-1)).toMatchObject({ name: 'rw', from: 'closed', to: 'open' })

    clock.advance(90_000)
    expect(cb.state).toBe('half-open')
    await succeed(cb)
    await succeed(cb)
    const third = succeedLater(cb)
    expect(isBrokenCircuitError(await succeed(cb))).toBe(true)
    third.resolve()
    await third.result
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts())
  })

  it('rolling window: a result whose bucket has left the window is dropped; a whole idle window clears', async () => {
    const clock = manualClock()
    const cb = newRollingWindow(clock)
    const late = succeedLater(cb)
    await succeed(cb)
    clock.advance(29_999) // age 9: the first bucket is still inside the window
    expect(cb.counts).toEqual(counts({ requests: 2, totalSuccesses: 1, consecutiveSuccesses: 1 }))
    clock.advance(1) // age 10: it rolls out
    expect(cb.counts).toEqual(counts())
    late.resolve()
    expect(await late.result).toBeUndefined()
    expect(cb.counts).toEqual(counts())

    await fail(cb)
    clock.advance(10 * 30_000)
    expect(cb.counts).toEqual(counts())
  })

  it('a throw inside the call (gobreaker: a panic) counts as a failure and propagates', async () => {
    const cb = circuitBreaker({ clock: manualClock() })
    const boom = new Error('oops')
    await expect(
      cb.execute(() => {
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(cb.counts).toEqual(counts({ requests: 1, totalFailures: 1, consecutiveFailures: 1 }))
  })

  it('generation isolation: a result that arrives after the interval rolled over is ignored', async () => {
    const clock = manualClock()
    const cb = newCustom(clock)
    clock.advance(29_000)
    await succeed(cb)
    const late = succeedLater(cb)
    clock.advance(500)
    expect(cb.counts).toEqual(counts({ requests: 2, totalSuccesses: 1, consecutiveSuccesses: 1 }))
    clock.advance(500) // over the interval
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts())
    late.resolve()
    expect(await late.result).toBeUndefined()
    expect(cb.counts).toEqual(counts())
  })

  it('generation isolation across a trip: a failure that lands while open or after reopening changes nothing', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, openMs: 1000 })
    const slow = succeedLater(cb)
    for (let i = 0; i < 6; i++) await fail(cb)
    expect(cb.state).toBe('open')
    clock.advance(1000)
    expect(cb.state).toBe('half-open')
    slow.resolve() // from the closed generation: must not count as the trial's success
    await slow.result
    expect(cb.state).toBe('half-open')
    expect(cb.counts).toEqual(counts())
  })

  it('custom outcome: everything successful never trips; failing errors do', async () => {
    const cb = circuitBreaker({ clock: manualClock(), outcome: () => 'success' })
    for (let i = 0; i < 5; i++) await fail(cb)
    expect(cb.state).toBe('closed')
    expect(cb.counts).toEqual(counts({ requests: 5, totalSuccesses: 5, consecutiveSuccesses: 5 }))

    const strict = circuitBreaker({
      clock: manualClock(),
      outcome: (s) => (s.ok ? 'success' : 'failure'),
    })
    for (let i = 0; i < 6; i++) await fail(strict)
    expect(strict.state).toBe('open')
  })

  it('exclusion and success predicates combine into three outcomes', async () => {
    const cb = circuitBreaker({
      clock: manualClock(),
      outcome: (s) => (s.ok ? 'success' : s.error === errExcluded ? 'excluded' : 'failure'),
    })
    for (let i = 0; i < 3; i++) await exclude(cb)
    expect(cb.counts).toEqual(counts({ requests: 3, totalExclusions: 3 }))
    for (let i = 0; i < 3; i++) await succeed(cb)
    expect(cb.counts).toEqual(
      counts({ requests: 6, totalSuccesses: 3, consecutiveSuccesses: 3, totalExclusions: 3 }),
    )
    for (let i = 0; i < 2; i++) await fail(cb)
    expect(cb.counts).toEqual(
      counts({
        requests: 8,
        totalSuccesses: 3,
        totalFailures: 2,
        consecutiveFailures: 2,
        totalExclusions: 3,
      }),
    )
  })

  it('exact counts under heavy concurrency: 10 workers × 1000 interleaved calls', async () => {
    const cb = newCustom(manualClock())
    const random = seededRandom(7)
    let successes = 0
    let exclusions = 0
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 1000; i++) {
        const hops = Math.floor(random() * 4)
        const call = cb.execute(async () => {
          for (let h = 0; h < hops; h++) await Promise.resolve()
          if (i % 2 === 1) throw errExcluded
          return true
        })
        if (i % 2 === 0) {
          successes++
          await call
        } else {
          exclusions++
          const e = await call.then(
            () => undefined,
            (x: unknown) => x,
          )
          if (e !== errExcluded) throw new Error('expected the excluded error')
        }
      }
    }
    await Promise.all(Array.from({ length: 10 }, worker))
    expect(cb.counts).toEqual(
      counts({
        requests: 10_000,
        totalSuccesses: successes,
        consecutiveSuccesses: successes,
        totalExclusions: exclusions,
      }),
    )
    expect(successes).toBe(5000)
  })

  it('exact counts under heavy concurrency in a rolling window, with all calls in flight at once', async () => {
    const clock = manualClock()
    const cb = newRollingWindow(clock)
    const pending: Array<{ result: Promise<unknown>; resolve: () => void; kind: number }> = []
    for (let i = 0; i < 1200; i++) {
      if (i % 100 === 0) clock.advance(1000) // spread over 4 buckets, all inside the window
      let resolve = (): void => {}
      const gate = new Promise<void>((r) => {
        resolve = r
      })
      const kind = i % 3
      const result = cb
        .execute(async () => {
          await gate
          if (kind === 1) throw errFailure
          if (kind === 2) throw errExcluded
          return true
        })
        .catch(() => undefined)
      pending.push({ result, resolve, kind })
    }
    // Settle in a scrambled order.
    const random = seededRandom(3)
    const order = pending.map((p, i) => ({ p, r: random(), i })).sort((a, b) => a.r - b.r)
    for (const { p } of order) p.resolve()
    await Promise.all(pending.map((p) => p.result))
    const c = cb.counts
    expect(c.requests).toBe(1200)
    expect(c.totalSuccesses).toBe(400)
    expect(c.totalFailures).toBe(400)
    expect(c.totalExclusions).toBe(400)
    expect(cb.state).toBe('closed') // 400 / 1200 < 0.6
  })
})
