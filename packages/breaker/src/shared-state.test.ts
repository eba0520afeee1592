import type { BreakerEventMap } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import type { CircuitBreaker } from './circuit-breaker.ts'
import { circuitBreaker } from './circuit-breaker.ts'
import { keyedBreaker } from './keyed-breaker.ts'
import type { BreakerStateStore, SharedTransition } from './shared-state.ts'
import { memoryBreakerStore } from './shared-state.ts'

const fail = async (): Promise<never> => {
  throw new Error('down')
}
const ok = async (): Promise<string> => 'ok'
/** Lets the store's asynchronous deliveries and replies land. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

/**
 * Offers each replica one call per round until one is admitted (the first round only
 * asks for the probe lease), and returns everything admitted.
 */
async function trial(breakers: readonly CircuitBreaker[]) {
  const admitted: { index: number; done: (o: 'success' | 'failure') => void }[] = []
  for (let round = 0; round < 3 && admitted.length === 0; round++) {
    breakers.forEach((b, index) => {
      const done = b.tryAllow()
      if (done !== undefined) admitted.push({ index, done })
    })
    await settle()
  }
  return admitted
}

function replicas(n: number, given?: BreakerStateStore) {
  const clock = manualClock(1000)
  const store = given ?? memoryBreakerStore({ clock })
  const changes: BreakerEventMap['stateChange'][] = []
  const breakers = Array.from({ length: n }, () => {
    const b = circuitBreaker({
      name: 'payments',
      readyToTrip: (c) => c.consecutiveFailures >= 3,
      openMs: 10_000,
      clock,
      shared: store,
    })
    b.events.on('stateChange', (e) => changes.push(e))
    return b
  })
  return { clock, breakers, changes }
}

describe('shared breaker state (memoryBreakerStore, manual clock)', () => {
  it('a trip on one replica opens the others, which reject without having seen a failure', async () => {
    const { breakers, changes } = replicas(3)
    const [a, b, c] = breakers as [CircuitBreaker, CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await expect(a.execute(fail)).rejects.toThrow('down')
    expect(a.state).toBe('open')
    await settle()
    expect([b.state, c.state]).toEqual(['open', 'open'])
    expect(changes.map((e) => e.reason)).toEqual(['ready-to-trip', 'remote-trip', 'remote-trip'])
    let ran = false
    await expect(
      b.execute(async () => {
        ran = true
      }),
    ).rejects.toMatchObject({ code: 'BROKEN_CIRCUIT', retryAfterMs: 10_000 })
    expect(ran).toBe(false)
  })

  it('when the open period ends only one replica runs the trial; its success closes the others', async () => {
    const { clock, breakers, changes } = replicas(3)
    const [a] = breakers
    for (let i = 0; i < 3; i++) await a?.execute(fail).catch(() => {})
    await settle()
    clock.advance(10_000)
    const admitted = await trial(breakers)
    expect(admitted).toHaveLength(1)
    expect(breakers.map((b) => b.state).sort()).toEqual(['half-open', 'open', 'open'])
    admitted[0]?.done('success')
    await settle()
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
    expect(changes.filter((e) => e.reason === 'remote-close')).toHaveLength(2)
    expect(changes.filter((e) => e.reason === 'probe-succeeded')).toHaveLength(1)
  })

  it('a failed trial reopens everyone for a new open period, with a new lease', async () => {
    const { clock, breakers } = replicas(2)
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    clock.advance(10_000)
    const first = await trial([a, b])
    expect(first).toHaveLength(1)
    first[0]?.done('failure')
    await settle()
    expect([a.state, b.state]).toEqual(['open', 'open'])
    expect([a.retryAfterMs(), b.retryAfterMs()]).toEqual([10_000, 10_000])
    clock.advance(10_000)
    expect(await trial([a, b])).toHaveLength(1)
  })

  it('a silent prober loses its lease: after one more open period another replica tries', async () => {
    const { clock, breakers } = replicas(2)
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    clock.advance(10_000)
    const first = await trial([a, b])
    expect(first).toHaveLength(1) // the prober holds the lease and never reports
    const other = first[0]?.index === 0 ? b : a
    expect(other.tryAllow()).toBeUndefined()
    clock.advance(10_000)
    expect(await trial([other])).toHaveLength(1)
  })

  it('a breaker created while the others hold the circuit open joins them', async () => {
    const store = memoryBreakerStore()
    const { breakers, clock } = replicas(1, store)
    for (let i = 0; i < 3; i++) await breakers[0]?.execute(fail).catch(() => {})
    clock.advance(4000)
    const late = circuitBreaker({ name: 'payments', clock, shared: store })
    await settle()
    expect(late.state).toBe('open')
    // the open period it was told about, not a full one of its own
    expect(late.retryAfterMs()).toBe(10_000)
  })

  it('a store that fails leaves every replica on local state: trips and trials stay local', async () => {
    const broken: BreakerStateStore = {
      publish: () => Promise.reject(new Error('ECONNREFUSED')),
      subscribe: () => () => {},
      current: () => Promise.reject(new Error('ECONNREFUSED')),
      acquireProbe: () => Promise.reject(new Error('ECONNREFUSED')),
    }
    const { clock, breakers } = replicas(2, broken)
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    expect([a.state, b.state]).toEqual(['open', 'closed'])
    expect(await b.execute(ok)).toBe('ok')
    clock.advance(10_000)
    expect(a.tryAllow()).toBeUndefined()
    await settle()
    expect(a.tryAllow()).toBeDefined() // no lease to be had: it probes, as a lone breaker would
  })

  it('ignores its own transitions and ones older than what it knows', async () => {
    const inner = memoryBreakerStore()
    const heard: ((t: SharedTransition) => void)[] = []
    const store: BreakerStateStore = {
      ...inner,
      subscribe(name, fn) {
        heard.push(fn)
        return inner.subscribe(name, fn)
      },
    }
    const { breakers } = replicas(2, store)
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    expect(b.state).toBe('open')
    // A "closed" of epoch 1 delivered late (after the trip of epoch 1) changes nothing.
    for (const fn of heard)
      fn({ name: 'payments', state: 'closed', epoch: 1, openRemainingMs: 0, origin: 'x' })
    expect([a.state, b.state]).toEqual(['open', 'open'])
    // A newer one does.
    for (const fn of heard)
      fn({ name: 'payments', state: 'closed', epoch: 2, openRemainingMs: 0, origin: 'x' })
    expect([a.state, b.state]).toEqual(['closed', 'closed'])
  })

  it('keyed breakers share per key, and stop listening when a key is dropped', async () => {
    const inner = memoryBreakerStore()
    let listening = 0
    const store: BreakerStateStore = {
      ...inner,
      subscribe(name, fn) {
        listening++
        const off = inner.subscribe(name, fn)
        return () => {
          listening--
          off()
        }
      },
    }
    const clock = manualClock()
    const options = { breaker: { readyToTrip: () => true, shared: store }, clock }
    const one = keyedBreaker(options)
    const two = keyedBreaker(options)
    await one.execute('GET /a', fail).catch(() => {})
    two.get('GET /a')
    two.get('GET /b')
    await settle()
    expect(two.get('GET /a').state).toBe('open')
    expect(two.get('GET /b').state).toBe('closed')
    expect(listening).toBe(3)
    two.delete('GET /b')
    expect(listening).toBe(2)
  })
})
