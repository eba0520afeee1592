import { getEventListeners } from 'node:events'
import type { ChaosEventMap } from '@sturdy/core'
import { compose, isTimeoutError } from '@sturdy/core'
import { manualClock, seededRandom } from '@sturdy/core/testing'
import { retry } from '@sturdy/retry'
import { timeout } from '@sturdy/timeout'
import { describe, expect, it } from 'vitest'
import {
  chaosBehaviour,
  chaosFault,
  chaosHang,
  chaosLatency,
  chaosOutcome,
  DEFAULT_INJECTION_RATE,
  isInjectedFaultError,
} from './index.ts'

const always = { injectionRate: 1 }

function injections(policy: {
  events: { on: (e: 'injected', f: (p: ChaosEventMap['injected']) => void) => unknown }
}) {
  const seen: ChaosEventMap['injected'][] = []
  policy.events.on('injected', (e) => seen.push(e))
  return seen
}

describe('chaosFault', () => {
  it('throws an InjectedFaultError (503) instead of running the call', async () => {
    const fault = chaosFault({ ...always, name: 'db-down' })
    const seen = injections(fault)
    let ran = false
    const error = await fault
      .execute(async () => {
        ran = true
      })
      .catch((e: unknown) => e)
    expect(isInjectedFaultError(error)).toBe(true)
    expect(error).toMatchObject({ status: 503, code: 'CHAOS_FAULT', chaos: 'db-down' })
    expect(ran).toBe(false)
    expect(seen).toEqual([{ name: 'db-down', kind: 'fault', scope: 'policy', latencyMs: 0 }])
  })

  it('throws a given error, or one from a factory that sees the attempt', async () => {
    const boom = new Error('boom')
    await expect(chaosFault({ ...always, fault: boom }).execute(async () => 1)).rejects.toBe(boom)
    const made = chaosFault({ ...always, fault: ({ attempt }) => new Error(`attempt ${attempt}`) })
    await expect(made.execute(async () => 1, undefined, 3)).rejects.toThrow('attempt 3')
  })

  it('inside compose(retry, fault): retries see the injected failures', async () => {
    const fault = chaosFault({ injectionRate: 0.5, random: seededRandom(1) })
    const seen = injections(fault)
    const policy = compose(retry({ maxAttempts: 10, delay: () => 0 }), fault)
    let calls = 0
    for (let i = 0; i < 20; i++) await policy.execute(async () => ++calls)
    // Every call succeeded in the end; the retries absorbed the injected faults.
    expect(calls).toBe(20)
    expect(seen.length).toBeGreaterThan(5)
  })
})

describe('chaosLatency', () => {
  it('waits the latency on the clock, then runs the call', async () => {
    const clock = manualClock()
    const slow = chaosLatency({ ...always, latencyMs: 300, clock })
    const seen = injections(slow)
    let ranAt: number | undefined
    const p = slow.execute(async () => {
      ranAt = clock.now()
      return 'ok'
    })
    await clock.advanceAsync(299)
    expect(ranAt).toBeUndefined()
    await clock.advanceAsync(1)
    await expect(p).resolves.toBe('ok')
    expect(ranAt).toBe(300)
    expect(seen[0]).toMatchObject({ kind: 'latency', latencyMs: 300 })
  })

  it('draws a random latency in [min, max] from the seeded source', async () => {
    const clock = manualClock()
    const slow = chaosLatency({
      ...always,
      latencyMs: { min: 100, max: 200 },
      clock,
      random: seededRandom(7),
    })
    const seen = injections(slow)
    for (let i = 0; i < 20; i++) {
      const p = slow.execute(async () => 1)
      await clock.advanceAsync(200)
      await p
    }
    const latencies = seen.map((e) => e.latencyMs)
    expect(latencies.every((ms) => ms >= 100 && ms <= 200)).toBe(true)
    expect(new Set(latencies).size).toBeGreaterThan(10)
  })

  it("honours the caller's signal: an abort stops the wait at once and frees timer and listener", async () => {
    const clock = manualClock()
    const slow = chaosLatency({ ...always, latencyMs: 10_000, clock })
    const caller = new AbortController()
    let ran = false
    const p = slow.execute(async () => {
      ran = true
    }, caller.signal)
    await clock.advanceAsync(5)
    const reason = new Error('gone')
    caller.abort(reason)
    await expect(p).rejects.toBe(reason)
    expect(ran).toBe(false)
    expect(clock.pending()).toBe(0)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
  })

  it('many concurrent waits on one signal share one listener: no MaxListenersExceededWarning', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const clock = manualClock()
    const slow = chaosLatency({ ...always, latencyMs: 100, clock })
    const stuck = chaosHang(always)
    const shutdown = new AbortController()
    const calls = Array.from({ length: 50 }, () => slow.execute(async () => 1, shutdown.signal))
    const hung = Array.from({ length: 50 }, () =>
      stuck.execute(async () => 1, shutdown.signal).catch((e: unknown) => e),
    )
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(2)
    await clock.advanceAsync(100)
    expect(await Promise.all(calls)).toHaveLength(50)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)
    shutdown.abort(new Error('shutdown'))
    expect((await Promise.all(hung)).every((e) => (e as Error).message === 'shutdown')).toBe(true)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    await new Promise((r) => setImmediate(r))
    process.off('warning', onWarning)
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  it('a latency beyond a composed timeout makes the call time out', async () => {
    const slow = chaosLatency({ ...always, latencyMs: 5_000 })
    const error = await compose(timeout(20), slow)
      .execute(async () => 1)
      .catch((e: unknown) => e)
    expect(isTimeoutError(error)).toBe(true)
  })
})

describe('chaosOutcome, chaosHang, chaosBehaviour', () => {
  it('outcome returns the substitute without calling', async () => {
    const unavailable = chaosOutcome({
      ...always,
      outcome: () => new Response(null, { status: 503, headers: { 'retry-after': '1' } }),
    })
    let ran = false
    const res = await unavailable.execute(async () => {
      ran = true
      return new Response('real')
    })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(ran).toBe(false)
  })

  it('hang never answers until the signal aborts, then rejects with its reason', async () => {
    const stuck = chaosHang(always)
    const caller = new AbortController()
    let settled = false
    const p = stuck
      .execute(async () => 1, caller.signal)
      .finally(() => {
        settled = true
      })
    await new Promise((r) => setTimeout(r, 20))
    expect(settled).toBe(false)
    caller.abort(new Error('deadline'))
    await expect(p).rejects.toThrow('deadline')
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
    const timedOut = await compose(timeout(10), stuck)
      .execute(async () => 1)
      .catch((e: unknown) => e)
    expect(isTimeoutError(timedOut)).toBe(true)
  })

  it('behaviour runs its side effect before the call; a failing one fails the call', async () => {
    const order: string[] = []
    const before = chaosBehaviour({
      ...always,
      behaviour: async ({ attempt }) => {
        order.push(`behaviour ${attempt}`)
      },
    })
    await before.execute(async () => order.push('call'))
    expect(order).toEqual(['behaviour 1', 'call'])
    const failing = chaosBehaviour({
      ...always,
      behaviour: () => {
        throw new Error('side effect failed')
      },
    })
    await expect(failing.execute(async () => 1)).rejects.toThrow('side effect failed')
  })

  it('needs its function', () => {
    expect(() => chaosOutcome({} as never)).toThrow(TypeError)
    expect(() => chaosBehaviour({} as never)).toThrow(TypeError)
    expect(() => chaosLatency({} as never)).toThrow(TypeError)
  })
})

describe('switches and settings', () => {
  it('a disabled policy runs the call untouched and draws no random number', async () => {
    let draws = 0
    const random = () => {
      draws++
      return 0
    }
    const fault = chaosFault({ ...always, enabled: false, random })
    await expect(fault.execute(async ({ attempt }) => attempt, undefined, 2)).resolves.toBe(2)
    expect(draws).toBe(0)
    fault.update({ enabled: true })
    await expect(fault.execute(async () => 1)).rejects.toThrow()
  })

  it('update is validated, all or nothing, and emits changed', () => {
    const slow = chaosLatency({ name: 'slow', latencyMs: 100 })
    const changes: unknown[] = []
    slow.events.on('changed', (e) => changes.push(e))
    expect(slow.settings()).toEqual({
      name: 'slow',
      kind: 'latency',
      scope: 'policy',
      enabled: true,
      injectionRate: DEFAULT_INJECTION_RATE,
      latencyMs: { min: 100, max: 100 },
    })
    expect(() => slow.update({ enabled: false, injectionRate: 2 })).toThrow(RangeError)
    expect(() => slow.update({ injectionRate: Number.NaN })).toThrow(RangeError)
    expect(() => slow.update({ latencyMs: { min: 5, max: 1 } })).toThrow(RangeError)
    expect(() => slow.update({ enabled: 'no' as never })).toThrow(TypeError)
    expect(slow.settings().enabled).toBe(true)
    expect(changes).toEqual([])
    expect(slow.update({ injectionRate: 0.5, latencyMs: { min: 10, max: 20 } })).toMatchObject({
      injectionRate: 0.5,
      latencyMs: { min: 10, max: 20 },
    })
    expect(changes).toEqual([{ name: 'slow', enabled: true, injectionRate: 0.5 }])
    expect(() => chaosFault().update({ latencyMs: 5 })).toThrow(TypeError)
  })

  it('rejects bad names and rates at construction', () => {
    expect(() => chaosFault({ name: 'has space' })).toThrow(TypeError)
    expect(() => chaosFault({ name: 'x'.repeat(65) })).toThrow(TypeError)
    expect(() => chaosFault({ injectionRate: -0.1 })).toThrow(RangeError)
    expect(() => chaosLatency({ latencyMs: Number.POSITIVE_INFINITY })).toThrow(RangeError)
    expect(chaosFault().name).toBe('chaos-fault')
  })

  it('is observable like any policy', () => {
    const fault = chaosFault({ name: 'f' })
    expect(fault.kind).toBe('chaos')
    expect(fault.name).toBe('f')
  })
})
