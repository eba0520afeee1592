/** What the breaker does past gobreaker: ratio and slow-call trips, backoff, errors, snapshots. */

import { getEventListeners } from 'node:events'
import type { BreakerEventMap } from '@sturdy/core'
import { ClientClosedError, problemFromError, SturdyError, TimeoutError } from '@sturdy/core'
import type { ManualClock } from '@sturdy/core/testing'
import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import type { CircuitBreaker } from './index.ts'
import {
  BrokenCircuitError,
  circuitBreaker,
  defaultOutcome,
  defaultReadyToTrip,
  isBrokenCircuitError,
  openBackoff,
} from './index.ts'

const boom = new Error('boom')

/** A call that takes `ms` on the manual clock, then succeeds or throws. */
async function call(
  cb: CircuitBreaker,
  clock: ManualClock,
  ms: number,
  ok = true,
): Promise<unknown> {
  const p = cb.execute(async () => {
    await new Promise<void>((r) => clock.setTimeout(r, ms))
    if (!ok) throw boom
    return 'ok'
  })
  const settled = p.then(
    () => undefined,
    (e: unknown) => e,
  )
  await clock.advanceAsync(ms)
  return settled
}

const ok = (cb: CircuitBreaker): Promise<unknown> =>
  cb
    .execute(async () => 1)
    .then(
      () => undefined,
      (e: unknown) => e,
    )
const ko = (cb: CircuitBreaker): Promise<unknown> =>
  cb
    .execute(async () => {
      throw boom
    })
    .then(
      () => undefined,
      (e: unknown) => (e === boom ? undefined : e),
    )

describe('failure-ratio trip over a rolling window', () => {
  it('needs minimumThroughput finished calls, then trips at the ratio (inclusive)', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, failureRatio: 0.5, minimumThroughput: 4 })
    const changes: BreakerEventMap['stateChange'][] = []
    cb.events.on('stateChange', (e) => changes.push(e))
    await ko(cb)
    await ko(cb)
    await ko(cb) // 3 / 3 failed, but below the minimum throughput
    expect(cb.state).toBe('closed')
    await ok(cb) // 3 / 4 ≥ 0.5: the call that reaches the throughput trips, success or not
    expect(cb.state).toBe('open')

    const inclusive = circuitBreaker({ clock, failureRatio: 0.5, minimumThroughput: 4 })
    await ko(inclusive)
    await ok(inclusive)
    await ok(inclusive)
    await ok(inclusive) // 1 / 4 < 0.5
    expect(inclusive.state).toBe('closed')
    await ko(inclusive) // 2 / 5 < 0.5
    expect(inclusive.state).toBe('closed')
    await ko(inclusive) // 3 / 6 = 0.5: trips (≥, like resilience4j; opossum uses >)
    expect(inclusive.state).toBe('open')
    expect(changes).toEqual([
      { name: 'breaker', from: 'closed', to: 'open', reason: 'failure-ratio' },
    ])
  })

  it('does not use the consecutive-failure default once a ratio is set, unless asked to', async () => {
    const clock = manualClock()
    const ratioOnly = circuitBreaker({ clock, failureRatio: 0.9, minimumThroughput: 100 })
    for (let i = 0; i < 20; i++) await ko(ratioOnly)
    expect(ratioOnly.state).toBe('closed')

    const both = circuitBreaker({
      clock,
      failureRatio: 0.9,
      minimumThroughput: 100,
      readyToTrip: defaultReadyToTrip,
    })
    const reasons: string[] = []
    both.events.on('stateChange', (e) => reasons.push(e.reason))
    for (let i = 0; i < 6; i++) await ko(both)
    expect(both.state).toBe('open')
    expect(reasons).toEqual(['consecutive-failures'])
  })

  it('failures that age out of the 10 s default window (1 s buckets) no longer count', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, failureRatio: 0.5, minimumThroughput: 10 })
    for (let i = 0; i < 9; i++) await ko(cb)
    clock.advance(9999) // age 9: still inside
    expect(cb.counts.totalFailures).toBe(9)
    clock.advance(1) // age 10: the first bucket is gone
    expect(cb.counts.totalFailures).toBe(0)
    for (let i = 0; i < 9; i++) await ok(cb)
    await ko(cb) // 1 / 10 < 0.5
    expect(cb.state).toBe('closed')
  })

  it('rejects ratios outside (0, 1] and a slow-call ratio without a threshold', () => {
    expect(() => circuitBreaker({ failureRatio: 0 })).toThrow(RangeError)
    expect(() => circuitBreaker({ failureRatio: 1.5 })).toThrow(RangeError)
    expect(() => circuitBreaker({ slowCallRatio: 0.5 })).toThrow(TypeError)
  })
})

describe('slow calls', () => {
  it('flags calls at or over slowCallMs in counts and events, and trips on the slow-call ratio', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({
      clock,
      slowCallMs: 100,
      slowCallRatio: 0.5,
      minimumThroughput: 4,
      openMs: 1000,
    })
    const seen: Array<[string, number, boolean]> = []
    cb.events.on('success', (e) => seen.push(['success', e.durationMs, e.slow]))
    cb.events.on('failure', (e) => seen.push(['failure', e.durationMs, e.slow]))
    const reasons: string[] = []
    cb.events.on('stateChange', (e) => reasons.push(e.reason))

    await call(cb, clock, 99)
    await call(cb, clock, 10)
    await call(cb, clock, 100) // slow success
    expect(cb.counts).toMatchObject({ totalSuccesses: 3, slowCalls: 1 })
    await call(cb, clock, 150, false) // slow failure: 2 / 4 slow ≥ 0.5
    expect(cb.state).toBe('open')
    expect(reasons).toEqual(['slow-call-ratio'])
    expect(seen).toEqual([
      ['success', 99, false],
      ['success', 10, false],
      ['success', 100, true],
      ['failure', 150, true],
    ])
  })

  it('a slow successful trial reopens the circuit; a fast one closes it', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({
      clock,
      slowCallMs: 100,
      slowCallRatio: 1,
      minimumThroughput: 1,
      openMs: 1000,
    })
    const reasons: string[] = []
    cb.events.on('stateChange', (e) => reasons.push(e.reason))
    await call(cb, clock, 200)
    expect(cb.state).toBe('open')
    clock.advance(1000)
    await call(cb, clock, 200)
    expect(cb.state).toBe('open')
    clock.advance(1000)
    await call(cb, clock, 5)
    expect(cb.state).toBe('closed')
    expect(reasons).toEqual([
      'slow-call-ratio',
      'timeout-elapsed',
      'probe-slow',
      'timeout-elapsed',
      'probe-succeeded',
    ])
  })
})

describe('open duration backoff', () => {
  it('grows with each re-trip from half-open, caps, and starts over after a close', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({
      clock,
      openMs: openBackoff({ initialMs: 1000, maxMs: 3000, factor: 2 }),
    })
    const openFor: number[] = []
    cb.events.on('stateChange', (e) => {
      if (e.to === 'open') openFor.push(cb.retryAfterMs())
    })
    for (let i = 0; i < 6; i++) await ko(cb)
    for (let trip = 0; trip < 3; trip++) {
      clock.advance(cb.retryAfterMs())
      expect(cb.state).toBe('half-open')
      await ko(cb)
    }
    expect(openFor).toEqual([1000, 2000, 3000, 3000])
    clock.advance(3000)
    await ok(cb)
    expect(cb.state).toBe('closed')
    for (let i = 0; i < 6; i++) await ko(cb)
    expect(cb.retryAfterMs()).toBe(1000)
  })

  it('validates its parameters', () => {
    expect(() => openBackoff({ initialMs: 10, maxMs: 5 })).toThrow(RangeError)
    expect(() => openBackoff({ factor: 0.5 })).toThrow(RangeError)
    expect(openBackoff()(1)).toBe(5000)
  })
})

describe('BrokenCircuitError', () => {
  it('is a 503 SturdyError with retryAfterMs, state and breaker name, and renders as problem+json', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, name: 'payments', openMs: 30_000 })
    for (let i = 0; i < 6; i++) await ko(cb)
    clock.advance(10_000)
    const e = await ok(cb)
    expect(e).toBeInstanceOf(BrokenCircuitError)
    expect(e).toBeInstanceOf(SturdyError)
    expect(isBrokenCircuitError(e)).toBe(true)
    expect(isBrokenCircuitError(new Error('x'))).toBe(false)
    expect(e).toMatchObject({
      name: 'BrokenCircuitError',
      code: 'BROKEN_CIRCUIT',
      status: 503,
      breaker: 'payments',
      state: 'open',
      retryAfterMs: 20_000,
    })
    expect(problemFromError(e)).toEqual({
      title: 'Service Unavailable',
      status: 503,
      code: 'BROKEN_CIRCUIT',
      detail: 'Circuit "payments" is open',
      retryAfterMs: 20_000,
    })
  })

  it('the guard works across copies (brand + code, not instanceof)', () => {
    const foreign = new SturdyError('BROKEN_CIRCUIT', 'from another copy', 503)
    expect(isBrokenCircuitError(foreign)).toBe(true)
  })
})

describe('isolate and reset', () => {
  it('isolate rejects everything, with no end, until reset', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, openMs: 5000 })
    const changes: string[] = []
    cb.events.on('stateChange', (e) => changes.push(`${e.from}>${e.to}:${e.reason}`))
    cb.isolate()
    expect(cb.state).toBe('isolated')
    clock.advance(86_400_000)
    expect(await ok(cb)).toMatchObject({ state: 'isolated', retryAfterMs: 5000 })
    cb.reset()
    expect(cb.state).toBe('closed')
    expect(await ok(cb)).toBeUndefined()
    expect(changes).toEqual(['closed>isolated:isolate', 'isolated>closed:reset'])
  })

  it('reset clears counts, trip history and an open circuit', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, openMs: openBackoff({ initialMs: 100 }) })
    for (let i = 0; i < 6; i++) await ko(cb)
    clock.advance(100)
    await ko(cb) // second trip: 200 ms
    expect(cb.retryAfterMs()).toBe(200)
    cb.reset()
    expect(cb.state).toBe('closed')
    for (let i = 0; i < 5; i++) await ko(cb)
    cb.reset()
    expect(cb.counts.totalFailures).toBe(0)
    await ko(cb)
    expect(cb.state).toBe('closed')
    for (let i = 0; i < 5; i++) await ko(cb)
    expect(cb.retryAfterMs()).toBe(100) // trip history was forgotten
  })
})

describe('snapshot and restore', () => {
  it('toJSON round-trips an open circuit with the time it has left, and its trip count', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, openMs: openBackoff({ initialMs: 1000 }) })
    for (let i = 0; i < 6; i++) await ko(cb)
    clock.advance(400)
    const snap = JSON.parse(JSON.stringify(cb))
    expect(snap).toEqual({
      state: 'open',
      openRemainingMs: 600,
      trips: 1,
      counts: {
        requests: 0,
        totalSuccesses: 0,
        totalFailures: 0,
        totalExclusions: 0,
        consecutiveSuccesses: 0,
        consecutiveFailures: 0,
        slowCalls: 0,
      },
    })
    const clock2 = manualClock(1_000_000)
    const restored = circuitBreaker({
      clock: clock2,
      initialState: snap,
      openMs: openBackoff({ initialMs: 1000 }),
    })
    expect(restored.state).toBe('open')
    clock2.advance(599)
    expect(restored.state).toBe('open')
    clock2.advance(1)
    expect(restored.state).toBe('half-open')
    await ko(restored) // second trip of the restored history: 2000 ms
    expect(restored.retryAfterMs()).toBe(2000)
  })

  it('restores closed counts, so a restored streak keeps counting', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock })
    for (let i = 0; i < 5; i++) await ko(cb)
    const restored = circuitBreaker({ clock, initialState: cb.toJSON() })
    expect(restored.counts).toEqual(cb.counts)
    await ko(restored)
    expect(restored.state).toBe('open')
  })

  it('restores isolated and half-open, and falls back to closed for garbage', () => {
    const clock = manualClock()
    const isolated = circuitBreaker({
      clock,
      initialState: {
        state: 'isolated',
        openRemainingMs: 0,
        trips: 0,
        counts: circuitBreaker().counts,
      },
    })
    expect(isolated.state).toBe('isolated')
    const half = circuitBreaker({
      clock,
      initialState: { ...isolated.toJSON(), state: 'half-open' },
    })
    expect(half.state).toBe('half-open')
    expect(half.tryAllow()).toBeTypeOf('function')
    expect(half.tryAllow()).toBeUndefined()
    const junk = circuitBreaker({
      clock,
      initialState: {
        state: 'weird' as never,
        openRemainingMs: Number.NaN,
        trips: -3,
        counts: {} as never,
      },
    })
    expect(junk.state).toBe('closed')
    const hostile = circuitBreaker({
      clock,
      initialState: {
        state: 'closed',
        openRemainingMs: 0,
        trips: 0,
        counts: JSON.parse('{"requests":2.7,"totalFailures":-4,"__proto__":{"x":1},"extra":9}'),
      },
    })
    expect(hostile.counts).toEqual({
      requests: 2,
      totalSuccesses: 0,
      totalFailures: 0,
      totalExclusions: 0,
      consecutiveSuccesses: 0,
      consecutiveFailures: 0,
      slowCalls: 0,
    })
    expect(
      circuitBreaker({ clock, initialState: { ...hostile.toJSON(), counts: null as never } }).state,
    ).toBe('closed')
  })
})

describe('two-step API', () => {
  it('allow() returns done(outcome); done is idempotent and measures from allow()', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, slowCallMs: 50 })
    const durations: number[] = []
    cb.events.on('success', (e) => durations.push(e.durationMs))
    const done = cb.allow()
    expect(cb.counts.requests).toBe(1)
    clock.advance(70)
    done('success')
    done('failure')
    expect(cb.counts).toMatchObject({
      requests: 1,
      totalSuccesses: 1,
      totalFailures: 0,
      slowCalls: 1,
    })
    cb.allow()('success', 3)
    expect(durations).toEqual([70, 3])
  })

  it('allow() throws BrokenCircuitError when rejected; tryAllow() returns undefined and emits rejected', async () => {
    const clock = manualClock()
    const cb = circuitBreaker({ clock, name: 'dep', openMs: 1000 })
    const rejected: BreakerEventMap['rejected'][] = []
    cb.events.on('rejected', (e) => rejected.push(e))
    for (let i = 0; i < 6; i++) cb.allow()('failure')
    expect(() => cb.allow()).toThrow(BrokenCircuitError)
    clock.advance(250)
    expect(cb.tryAllow()).toBeUndefined()
    expect(rejected).toEqual([
      { name: 'dep', state: 'open', retryAfterMs: 1000 },
      { name: 'dep', state: 'open', retryAfterMs: 750 },
    ])
    clock.advance(750)
    const trial = cb.allow()
    expect(() => cb.allow()).toThrow(
      expect.objectContaining({ state: 'half-open', retryAfterMs: 1000 }),
    )
    trial('excluded') // frees the slot
    cb.allow()('success')
    expect(cb.state).toBe('closed')
  })
})

describe('outcomes and cancellation', () => {
  it('passes signal and attempt through; an already-aborted caller is refused without counting', async () => {
    const cb = circuitBreaker({ clock: manualClock() })
    const ac = new AbortController()
    const seen = await cb.execute((ctx) => ctx, ac.signal, 3)
    expect(seen.signal).toBe(ac.signal)
    expect(seen.attempt).toBe(3)
    const dflt = await cb.execute((ctx) => ctx)
    expect(dflt.attempt).toBe(1)
    expect(dflt.signal.aborted).toBe(false)
    const why = new Error('gone')
    ac.abort(why)
    await expect(cb.execute(async () => 1, ac.signal)).rejects.toBe(why)
    expect(cb.counts.requests).toBe(2)
    // The breaker never listens to the caller's signal: nothing to leak.
    const live = new AbortController()
    await cb.execute(async () => 1, live.signal)
    expect(getEventListeners(live.signal, 'abort')).toHaveLength(0)
  })

  it('a caller that gives up mid-call is excluded; a deadline is a failure', async () => {
    const cb = circuitBreaker({ clock: manualClock() })
    const gone = new AbortController()
    const p1 = cb.execute(async ({ signal }) => {
      gone.abort(new ClientClosedError())
      throw signal.reason
    }, gone.signal)
    await expect(p1).rejects.toBeInstanceOf(ClientClosedError)
    const late = new AbortController()
    const p2 = cb.execute(async ({ signal }) => {
      late.abort(new TimeoutError('too slow', 100))
      throw signal.reason
    }, late.signal)
    await expect(p2).rejects.toBeInstanceOf(TimeoutError)
    expect(cb.counts).toMatchObject({ requests: 2, totalExclusions: 1, totalFailures: 1 })
  })

  it('classifies results too (a 5xx response is a failure), and a throwing predicate counts as failure', async () => {
    const cb = circuitBreaker({
      clock: manualClock(),
      outcome: (s) => {
        if (s.ok && (s.value as { status: number }).status >= 500) return 'failure'
        if (s.ok && (s.value as { status: number }).status === 418) throw new Error('bug')
        return defaultOutcome(s)
      },
    })
    await cb.execute(async () => ({ status: 503 }))
    await cb.execute(async () => ({ status: 200 }))
    await cb.execute(async () => ({ status: 418 }))
    expect(cb.counts).toMatchObject({ totalFailures: 2, totalSuccesses: 1 })
  })

  it('builds no event payloads when nobody listens, and a throwing listener cannot break a call', async () => {
    const cb = circuitBreaker({ clock: manualClock() })
    expect(cb.events).toBeDefined()
    const off = cb.events.on('success', () => {
      throw new Error('observer bug')
    })
    await expect(cb.execute(async () => 42)).resolves.toBe(42)
    off()
    await expect(cb.execute(async () => 43)).resolves.toBe(43)
  })
})
