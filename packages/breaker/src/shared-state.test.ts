import type { BreakerEventMap, Clock } from '@sturdy/core'
import type { ManualClock } from '@sturdy/core/testing'
import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import type { CircuitBreakerOptions } from './breaker-options.ts'
import type { CircuitBreaker } from './circuit-breaker.ts'
import { circuitBreaker } from './circuit-breaker.ts'
import { keyedBreaker } from './keyed-breaker.ts'
import { memoryBreakerStore } from './memory-breaker-store.ts'
import type { BreakerStateStore, SharedBreakerOptions, SharedTransition } from './shared-state.ts'

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

interface ReplicaOptions {
  /** The store, given the replicas' clock. @default memoryBreakerStore({ clock }) */
  store?: (clock: Clock) => BreakerStateStore
  /** Per replica (by index): what to wrap the store in, e.g. to lose its messages. */
  wrap?: (store: BreakerStateStore, index: number) => BreakerStateStore
  shared?: Omit<SharedBreakerOptions, 'store'>
  breaker?: CircuitBreakerOptions
}

function replicas(n: number, o: ReplicaOptions = {}) {
  const clock = manualClock(1000)
  const store = o.store?.(clock) ?? memoryBreakerStore({ clock })
  const changes: BreakerEventMap['stateChange'][] = []
  const breakers = Array.from({ length: n }, (_, index) => {
    const b = circuitBreaker({
      name: 'payments',
      openMs: 10_000,
      clock,
      // The longest sync wait, so the bound is exact with a manual clock.
      shared: { random: () => 0, ...o.shared, store: o.wrap?.(store, index) ?? store },
      ...(o.breaker ?? { readyToTrip: (c) => c.consecutiveFailures >= 3 }),
    })
    b.events.on('stateChange', (e) => changes.push(e))
    return b
  })
  return { clock, store, breakers, changes }
}

/** A store whose pub/sub deliveries (not its other calls) are lost while `paused`. */
function lossySubscriber(store: BreakerStateStore) {
  const control = { paused: false }
  const wrapped: BreakerStateStore = {
    ...store,
    subscribe: (name, fn) =>
      store.subscribe(name, (t) => {
        if (!control.paused) fn(t)
      }),
  }
  return { store: wrapped, control }
}

/** A store that is unreachable while `down`: calls reject, deliveries are lost. */
function flakyStore(store: BreakerStateStore) {
  const control = { down: false }
  const gate =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      control.down ? Promise.reject(new Error('ECONNREFUSED')) : fn(...args)
  const wrapped: BreakerStateStore = {
    publish: gate(store.publish),
    current: gate(store.current),
    acquireProbe: gate(store.acquireProbe),
    addCounts: gate(store.addCounts),
    subscribe: (name, fn) =>
      store.subscribe(name, (t) => {
        if (!control.down) fn(t)
      }),
  }
  return { store: wrapped, control }
}

/** Advances the manual clock, letting the store's answers land between timers. */
async function advance(clock: ManualClock, ms: number): Promise<void> {
  await clock.advanceAsync(ms)
  await settle()
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
    const { breakers, clock, store } = replicas(1)
    for (let i = 0; i < 3; i++) await breakers[0]?.execute(fail).catch(() => {})
    clock.advance(4000)
    const late = circuitBreaker({ name: 'payments', clock, shared: store })
    await settle()
    expect(late.state).toBe('open')
    // what is left of the open period, not a full one of its own
    expect(late.retryAfterMs()).toBe(6000)
  })

  it('a store that fails leaves every replica on local state: trips and trials stay local', async () => {
    const broken: BreakerStateStore = {
      publish: () => Promise.reject(new Error('ECONNREFUSED')),
      subscribe: () => () => {},
      current: () => Promise.reject(new Error('ECONNREFUSED')),
      acquireProbe: () => Promise.reject(new Error('ECONNREFUSED')),
      addCounts: () => Promise.reject(new Error('ECONNREFUSED')),
    }
    const { clock, breakers } = replicas(2, { store: () => broken })
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
    const heard: ((t: SharedTransition) => void)[] = []
    const { breakers } = replicas(2, {
      store: (clock) => {
        const inner = memoryBreakerStore({ clock })
        return {
          ...inner,
          subscribe(name, fn) {
            heard.push(fn)
            return inner.subscribe(name, fn)
          },
        }
      },
    })
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
    expect(clock.pending()).toBe(3) // one sync timer per shared breaker
    two.delete('GET /b')
    expect(listening).toBe(2)
    expect(clock.pending()).toBe(2)
  })
})

describe('periodic sync: convergence when a message is lost (memoryBreakerStore, manual clock)', () => {
  it('a replica whose subscriber missed the trip opens within syncMs, not before', async () => {
    let c = lossySubscriber(memoryBreakerStore())
    const { clock, breakers, changes } = replicas(3, {
      wrap: (store, index) => {
        if (index !== 2) return store
        c = lossySubscriber(store)
        return c.store
      },
    })
    const [a, b, late] = breakers as [CircuitBreaker, CircuitBreaker, CircuitBreaker]
    await settle()
    c.control.paused = true
    await advance(clock, 300) // the trip lands 300 ms into a sync period
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    expect([a.state, b.state, late.state]).toEqual(['open', 'open', 'closed'])
    await advance(clock, 699) // 999 ms since the last sync: not yet
    expect(late.state).toBe('closed')
    await advance(clock, 1) // syncMs (1000) since the last sync
    expect(late.state).toBe('open')
    // it joins for what is left of the open period, from the store's clock
    expect(late.retryAfterMs()).toBe(10_000 - 700)
    expect(changes.filter((e) => e.reason === 'remote-trip')).toHaveLength(2)
  })

  it('with jitter, every wait is within (syncMs / 2, syncMs]', async () => {
    let c = lossySubscriber(memoryBreakerStore())
    let draws = 0
    const { clock, breakers } = replicas(2, {
      shared: { syncMs: 2000, random: () => [0.999, 0.5, 0][draws++ % 3] as number },
      wrap: (store, index) => {
        if (index !== 1) return store
        c = lossySubscriber(store)
        return c.store
      },
    })
    const [a, other] = breakers as [CircuitBreaker, CircuitBreaker]
    await settle()
    c.control.paused = true
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    // `other` drew 0.5 at creation: its first sync comes 1500 ms later
    await advance(clock, 1499)
    expect(other.state).toBe('closed')
    await advance(clock, 1)
    expect(other.state).toBe('open')
  })

  it('a missed verdict converges too: the replica that did not hear the close closes at the next sync', async () => {
    let c = lossySubscriber(memoryBreakerStore())
    const { clock, breakers } = replicas(2, {
      wrap: (store, index) => {
        if (index !== 1) return store
        c = lossySubscriber(store)
        return c.store
      },
    })
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    expect(b.state).toBe('open')
    await advance(clock, 10_000)
    const admitted = await trial([a]) // `a` takes the lease
    expect(admitted).toHaveLength(1)
    c.control.paused = true
    admitted[0]?.done('success')
    await settle()
    expect([a.state, b.state]).toEqual(['closed', 'open'])
    await advance(clock, 1000)
    expect(b.state).toBe('closed')
  })

  it('a replica whose store connection was down converges once it comes back', async () => {
    let c = flakyStore(memoryBreakerStore())
    const { clock, breakers } = replicas(2, {
      wrap: (store, index) => {
        if (index !== 1) return store
        c = flakyStore(store)
        return c.store
      },
    })
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    await settle()
    c.control.down = true
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await advance(clock, 3000) // three syncs fail
    expect(b.state).toBe('closed')
    c.control.down = false
    await advance(clock, 1000)
    expect(b.state).toBe('open')
    expect(b.retryAfterMs()).toBe(10_000 - 3000 - 1000)
  })

  it('a trip published while the store was down is not taken for an old one when the store gives out its epoch', async () => {
    // `b` closes after its trial, but the store never hears it. Then `a`'s failed trial
    // reopens the circuit with the epoch `b` had taken for its close: `b` must apply it.
    let flaky = flakyStore(memoryBreakerStore())
    const { clock, breakers } = replicas(2, {
      wrap: (store, index) => {
        if (index !== 1) return store
        flaky = flakyStore(store)
        return flaky.store
      },
    })
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    await advance(clock, 10_000)
    const first = await trial([b])
    expect(first).toHaveLength(1)
    flaky.control.down = true
    first[0]?.done('success')
    await settle()
    expect([a.state, b.state]).toEqual(['open', 'closed'])
    flaky.control.down = false
    await advance(clock, 10_000) // b's lease runs out; a takes over and fails
    const second = await trial([a])
    expect(second).toHaveLength(1)
    second[0]?.done('failure')
    await settle()
    expect([a.state, b.state]).toEqual(['open', 'open'])
  })

  it('syncMs: Infinity turns the periodic sync off (no timer)', () => {
    const clock = manualClock()
    circuitBreaker({ clock, shared: { store: memoryBreakerStore({ clock }), syncMs: Infinity } })
    expect(clock.pending()).toBe(0)
  })
})

describe('merged counts (mergeCounts, memoryBreakerStore, manual clock)', () => {
  const ratio = (extra: CircuitBreakerOptions = {}): CircuitBreakerOptions => ({
    failureRatio: 0.5,
    minimumThroughput: 10,
    intervalMs: 10_000,
    bucketMs: 1000,
    ...extra,
  })

  it('three replicas, each below minimumThroughput, trip together on the cluster ratio', async () => {
    const { clock, breakers, changes } = replicas(3, {
      breaker: ratio(),
      shared: { mergeCounts: true },
    })
    for (const b of breakers) for (let i = 0; i < 4; i++) await b.execute(fail).catch(() => {})
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
    await advance(clock, 1000)
    expect(breakers.map((b) => b.state)).toEqual(['open', 'open', 'open'])
    // The report that brought the cluster to 12 tripped its replica; it opened the others.
    expect(changes.map((e) => e.reason).sort()).toEqual([
      'failure-ratio',
      'remote-trip',
      'remote-trip',
    ])
  })

  it('without mergeCounts the same replicas stay closed', async () => {
    const { clock, breakers } = replicas(3, { breaker: ratio() })
    for (const b of breakers) for (let i = 0; i < 4; i++) await b.execute(fail).catch(() => {})
    await advance(clock, 5000)
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
  })

  it('between reports, a call trips on the cluster counts plus its own unreported ones', async () => {
    const { clock, breakers, changes } = replicas(2, {
      breaker: ratio(),
      shared: { mergeCounts: true },
    })
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 5; i++) await a.execute(fail).catch(() => {})
    for (let i = 0; i < 4; i++) await b.execute(fail).catch(() => {})
    await advance(clock, 1000) // a reports 5, b reports 4 and learns 9
    expect([a.state, b.state]).toEqual(['closed', 'closed'])
    await b.execute(fail).catch(() => {}) // 9 + 1: the minimum volume, all failures
    expect(b.state).toBe('open')
    expect(changes[0]).toMatchObject({ reason: 'failure-ratio', to: 'open' })
    await settle()
    expect(a.state).toBe('open')
  })

  it('successes count too: a cluster below the ratio stays closed', async () => {
    const { clock, breakers } = replicas(3, {
      breaker: ratio({ failureRatio: 0.6 }),
      shared: { mergeCounts: true },
    })
    for (const b of breakers) {
      for (let i = 0; i < 2; i++) await b.execute(fail).catch(() => {})
      for (let i = 0; i < 2; i++) await b.execute(ok)
    }
    await advance(clock, 3000)
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
  })

  it('results older than the window no longer count', async () => {
    const { clock, breakers } = replicas(3, {
      breaker: ratio(),
      shared: { mergeCounts: true },
    })
    for (const b of breakers) for (let i = 0; i < 3; i++) await b.execute(fail).catch(() => {})
    await advance(clock, 1000) // 9 reported
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
    await advance(clock, 10_000) // out of the 10 s window
    for (const b of breakers) await b.execute(fail).catch(() => {})
    await advance(clock, 1000)
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
  })

  it('results from before a shared transition do not count after it', async () => {
    const { clock, breakers } = replicas(3, {
      breaker: ratio(),
      shared: { mergeCounts: true },
    })
    const [a] = breakers as [CircuitBreaker]
    for (const b of breakers) for (let i = 0; i < 3; i++) await b.execute(fail).catch(() => {})
    await advance(clock, 1000) // 9 reported for epoch 0
    expect(await a.reset({ shared: true })).toBe(true) // epoch 1: a new generation everywhere
    await settle()
    for (const b of breakers) await b.execute(fail).catch(() => {})
    await advance(clock, 1000)
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
  })

  it('a store that cannot take the report leaves each replica on its own counts', async () => {
    const broken = (store: BreakerStateStore): BreakerStateStore => ({
      ...store,
      addCounts: () => Promise.reject(new Error('ECONNREFUSED')),
    })
    const { clock, breakers } = replicas(3, {
      breaker: ratio(),
      shared: { mergeCounts: true },
      wrap: broken,
    })
    for (const b of breakers) for (let i = 0; i < 4; i++) await b.execute(fail).catch(() => {})
    await advance(clock, 3000)
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed'])
    // A replica's own counts still trip it.
    for (let i = 0; i < 6; i++) await breakers[0]?.execute(fail).catch(() => {})
    expect(breakers[0]?.state).toBe('open')
  })

  it('the store sums reports over the window, scoped to its epoch (as the Redis script does)', async () => {
    const clock = manualClock(0)
    const store = memoryBreakerStore({ clock })
    const window = { bucketMs: 100, buckets: 3 }
    const report = (epoch: number, failures: number) =>
      store.addCounts('counts', { epoch, successes: 1, failures, slowCalls: 0, ...window })
    expect(await report(0, 2)).toEqual({ epoch: 0, successes: 1, failures: 2, slowCalls: 0 })
    clock.advance(150)
    expect(await report(0, 3)).toEqual({ epoch: 0, successes: 2, failures: 5, slowCalls: 0 })
    await store.publish({ name: 'counts', state: 'closed', openRemainingMs: 0, origin: 'x' }, 1)
    expect(await report(0, 7)).toEqual({ epoch: 1, successes: 0, failures: 0, slowCalls: 0 })
    expect(await report(1, 1)).toEqual({ epoch: 1, successes: 1, failures: 1, slowCalls: 0 })
    expect(await report(5, 1)).toEqual({ epoch: 5, successes: 1, failures: 1, slowCalls: 0 })
    clock.advance(150) // bucket 3: bucket 1 is still in the window of 3
    expect(await report(5, 0)).toEqual({ epoch: 5, successes: 2, failures: 1, slowCalls: 0 })
    clock.advance(100) // bucket 4: it has left (bucket 3's success and this one remain)
    expect(await report(5, 0)).toEqual({ epoch: 5, successes: 2, failures: 0, slowCalls: 0 })
  })

  it('refuses mergeCounts where merging is unsound, and a bad syncMs, with a clear error', () => {
    const store = memoryBreakerStore()
    expect(() => circuitBreaker({ shared: { store, mergeCounts: true } })).toThrow(
      /mergeCounts needs failureRatio or slowCallRatio/,
    )
    expect(() =>
      circuitBreaker({ failureRatio: 0.5, intervalMs: 0, shared: { store, mergeCounts: true } }),
    ).toThrow(/mergeCounts needs a window/)
    expect(() =>
      circuitBreaker({ failureRatio: 0.5, shared: { store, mergeCounts: true, syncMs: Infinity } }),
    ).toThrow(/syncMs must be finite/)
    expect(() => circuitBreaker({ shared: { store, syncMs: 0 } })).toThrow(RangeError)
    expect(() => circuitBreaker({ shared: {} as SharedBreakerOptions })).toThrow(
      /shared needs a store/,
    )
  })
})

describe('isolate / reset across replicas (memoryBreakerStore, manual clock)', () => {
  it('isolate({ shared: true }) isolates every replica, and replicas that start later', async () => {
    const { clock, breakers, changes, store } = replicas(3)
    const [a, b, c] = breakers as [CircuitBreaker, CircuitBreaker, CircuitBreaker]
    const taken = a.isolate({ shared: true })
    expect(a.state).toBe('isolated') // at once, before the store answers
    expect(await taken).toBe(true)
    await settle()
    expect([b.state, c.state]).toEqual(['isolated', 'isolated'])
    expect(changes.map((e) => e.reason)).toEqual(['isolate', 'remote-isolate', 'remote-isolate'])
    const late = circuitBreaker({ name: 'payments', clock, shared: store })
    await settle()
    expect(late.state).toBe('isolated')
    // An isolated replica ignores trips and verdicts: only a reset ends it.
    await advance(clock, 60_000)
    expect([a, b, c, late].map((x) => x.state)).toEqual([
      'isolated',
      'isolated',
      'isolated',
      'isolated',
    ])
  })

  it('reset({ shared: true }) closes every replica, isolated or open, and clears trip history', async () => {
    const { clock, breakers, changes } = replicas(3)
    const [a, b, c] = breakers as [CircuitBreaker, CircuitBreaker, CircuitBreaker]
    for (let i = 0; i < 3; i++) await a.execute(fail).catch(() => {})
    await settle()
    b.isolate() // local only
    await advance(clock, 1000)
    expect([a.state, b.state, c.state]).toEqual(['open', 'isolated', 'open'])
    expect(await c.reset({ shared: true })).toBe(true)
    await settle()
    expect([a.state, b.state, c.state]).toEqual(['closed', 'closed', 'closed'])
    expect(
      changes
        .filter((e) => e.reason === 'remote-reset')
        .map((e) => e.from)
        .sort(),
    ).toEqual(['isolated', 'open'])
  })

  it('plain isolate() and reset() stay local, and the periodic sync does not undo them', async () => {
    const { clock, breakers } = replicas(2)
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    a.isolate()
    await advance(clock, 3000)
    expect([a.state, b.state]).toEqual(['isolated', 'closed'])
    a.reset()
    await b.isolate({ shared: true })
    await settle()
    expect(a.state).toBe('isolated')
    a.reset()
    await advance(clock, 3000)
    expect([a.state, b.state]).toEqual(['closed', 'isolated'])
  })

  it('resolves false when there is nobody to tell: no shared store, or the store is down', async () => {
    const alone = circuitBreaker()
    expect(await alone.isolate({ shared: true })).toBe(false)
    expect(alone.state).toBe('isolated')
    expect(await alone.reset({ shared: true })).toBe(false)
    expect(alone.state).toBe('closed')
    let flaky = flakyStore(memoryBreakerStore())
    const { breakers } = replicas(2, {
      wrap: (store, index) => {
        if (index !== 0) return store
        flaky = flakyStore(store)
        return flaky.store
      },
    })
    const [a, b] = breakers as [CircuitBreaker, CircuitBreaker]
    flaky.control.down = true
    expect(await a.isolate({ shared: true })).toBe(false)
    await settle()
    expect([a.state, b.state]).toEqual(['isolated', 'closed'])
  })
})
