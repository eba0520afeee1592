import type { LimitEventMap } from '@sturdy/core'
import { ClientClosedError, TimeoutError } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { LimitAlgorithm } from './algorithm.ts'
import { isOverloadedError, OverloadedError } from './errors.ts'
import type { LimitPermit } from './limiter.ts'
import { concurrencyLimiter, earlyShedder } from './limiter.ts'

describe('concurrencyLimiter: a fixed limit (bulkhead)', () => {
  it('admits up to the limit, refuses the rest at once, and frees slots on release', () => {
    const limiter = concurrencyLimiter({ limit: 2 })
    const a = limiter.tryAcquire()
    const b = limiter.tryAcquire()
    expect(a).toBeDefined()
    expect(b).toBeDefined()
    expect(limiter.tryAcquire()).toBeUndefined()
    expect(limiter.stats()).toEqual({ limit: 2, inflight: 2, queued: 0 })
    a?.release()
    a?.release() // twice: harmless
    expect(limiter.inflight).toBe(1)
    expect(limiter.tryAcquire()).toBeDefined()
  })

  it('sheds sheddable work first: it only gets its share of the limit', () => {
    const limiter = concurrencyLimiter({ limit: 10 })
    for (let i = 0; i < 5; i++) expect(limiter.tryAcquire('sheddable')).toBeDefined()
    expect(limiter.tryAcquire('sheddable')).toBeUndefined() // 5 = 10 × 0.5
    for (let i = 0; i < 5; i++) expect(limiter.tryAcquire('normal')).toBeDefined()
    expect(limiter.tryAcquire('normal')).toBeUndefined()
    expect(limiter.tryAcquire('critical')).toBeUndefined()
  })

  it('shares are configurable, and nonsense is refused', () => {
    const limiter = concurrencyLimiter({ limit: 10, shares: { normal: 0.8 } })
    for (let i = 0; i < 8; i++) limiter.tryAcquire('normal')
    expect(limiter.tryAcquire('normal')).toBeUndefined()
    expect(limiter.tryAcquire('critical')).toBeDefined()
    expect(() => concurrencyLimiter({ shares: { sheddable: 0 } })).toThrow(/shares.sheddable/)
    expect(() => concurrencyLimiter({ queueTimeoutMs: -1 })).toThrow(/queueTimeoutMs/)
  })

  it('emits shed with one shared, frozen payload per reason and priority', () => {
    const limiter = concurrencyLimiter({ name: 'db', limit: 1 })
    const seen: LimitEventMap['shed'][] = []
    limiter.events.on('shed', (e) => seen.push(e))
    limiter.tryAcquire()
    limiter.tryAcquire()
    limiter.tryAcquire()
    limiter.tryAcquire('sheddable')
    expect(seen).toHaveLength(3)
    expect(seen[0]).toEqual({ name: 'db', reason: 'limit', priority: 'normal' })
    expect(seen[1]).toBe(seen[0])
    expect(seen[2]).toEqual({ name: 'db', reason: 'limit', priority: 'sheddable' })
    expect(Object.isFrozen(seen[0])).toBe(true)
  })
})

describe('concurrencyLimiter: the queue', () => {
  it('serves waiters by priority, FIFO within one, as slots free', async () => {
    const limiter = concurrencyLimiter({ limit: 1, maxQueue: 10, clock: manualClock() })
    const first = limiter.tryAcquire()
    const order: string[] = []
    const wait = (name: string, p: 'critical' | 'normal' | 'sheddable') =>
      limiter.acquire(p).then((permit) => {
        order.push(name)
        return permit
      })
    const n1 = wait('n1', 'normal')
    const s1 = wait('s1', 'sheddable')
    const n2 = wait('n2', 'normal')
    const c1 = wait('c1', 'critical')
    expect(limiter.queued).toBe(4)
    first?.release()
    ;(await c1).release()
    ;(await n1).release()
    ;(await n2).release()
    ;(await s1).release()
    expect(order).toEqual(['c1', 'n1', 'n2', 's1'])
    expect(limiter.stats()).toEqual({ limit: 1, inflight: 0, queued: 0 })
  })

  it('a newcomer does not jump waiters of its priority or higher', async () => {
    const limiter = concurrencyLimiter({ limit: 1, maxQueue: 5, clock: manualClock() })
    const first = limiter.tryAcquire()
    const waiting = limiter.acquire('normal')
    first?.release() // the waiter takes the slot at once
    expect(limiter.tryAcquire('normal')).toBeUndefined()
    ;(await waiting).release()
    expect(limiter.tryAcquire('normal')).toBeDefined()
  })

  it('refuses a waiter after queueTimeoutMs and leaves no timer behind', async () => {
    const clock = manualClock()
    const limiter = concurrencyLimiter({
      name: 'q',
      limit: 1,
      maxQueue: 5,
      queueTimeoutMs: 200,
      clock,
    })
    limiter.tryAcquire()
    const waiting = limiter.acquire()
    const caught = waiting.catch((e: unknown) => e)
    clock.advance(199)
    expect(limiter.queued).toBe(1)
    clock.advance(1)
    const error = await caught
    expect(isOverloadedError(error)).toBe(true)
    expect((error as OverloadedError).reason).toBe('queue-timeout')
    expect((error as OverloadedError).retryAfterMs).toBe(1000)
    expect(limiter.queued).toBe(0)
    expect(clock.pending()).toBe(0)
  })

  it('a full queue refuses the newcomer, or makes room for a higher priority', async () => {
    const clock = manualClock()
    const limiter = concurrencyLimiter({ limit: 1, maxQueue: 2, clock })
    limiter.tryAcquire()
    const s = limiter.acquire('sheddable').catch((e: unknown) => e)
    const n = limiter.acquire('normal')
    const refused = await limiter.acquire('sheddable').catch((e: unknown) => e)
    expect((refused as OverloadedError).reason).toBe('queue-full')
    const c = limiter.acquire('critical')
    expect((await s) as OverloadedError).toMatchObject({ reason: 'queue-full' })
    expect(limiter.queued).toBe(2)
    void n
    void c
    expect(clock.pending()).toBe(2)
  })

  it('a waiter whose caller gives up leaves the queue at once (no starvation, no listener left)', async () => {
    const clock = manualClock()
    const limiter = concurrencyLimiter({ limit: 1, maxQueue: 5, clock })
    const held = limiter.tryAcquire()
    const controller = new AbortController()
    const gone = limiter.acquire('normal', controller.signal).catch((e: unknown) => e)
    const next = limiter.acquire('normal')
    controller.abort(new ClientClosedError())
    expect(await gone).toBeInstanceOf(ClientClosedError)
    expect(limiter.queued).toBe(1)
    held?.release()
    ;(await next).release()
    expect(clock.pending()).toBe(0)
    // An already-aborted signal is refused without queueing.
    await expect(limiter.acquire('normal', AbortSignal.abort('x'))).rejects.toBe('x')
  })

  it('without a queue, acquire() refuses at once', async () => {
    const limiter = concurrencyLimiter({ limit: 1 })
    limiter.tryAcquire()
    await expect(limiter.acquire()).rejects.toMatchObject({ code: 'OVERLOADED', reason: 'limit' })
  })
})

describe('concurrencyLimiter as a Policy', () => {
  it('runs the call under a permit and throws OverloadedError when full', async () => {
    const limiter = concurrencyLimiter({ name: 'inventory', limit: 1 })
    let release: () => void = () => {}
    const running = limiter.execute(() => new Promise<string>((r) => (release = () => r('ok'))))
    await expect(limiter.execute(async () => 'second')).rejects.toBeInstanceOf(OverloadedError)
    release()
    expect(await running).toBe('ok')
    expect(limiter.inflight).toBe(0)
    expect(await limiter.execute(async ({ attempt }) => attempt, undefined, 3)).toBe(3)
  })

  it('feeds the algorithm: RTT from the clock, drops from timeouts and 503s, nothing for a caller that left', async () => {
    const clock = manualClock(100)
    const samples: { rttMs: number; dropped: boolean; inflight: number }[] = []
    const algo: LimitAlgorithm = {
      limit: 5,
      onSample: (s) => {
        samples.push({ rttMs: s.rttMs, dropped: s.dropped, inflight: s.inflight })
      },
    }
    const limiter = concurrencyLimiter({ limit: algo, clock })
    await limiter.execute(async () => {
      clock.advance(30)
    })
    await limiter.execute(async () => ({ status: 503 }))
    await limiter
      .execute(async () => {
        throw new TimeoutError()
      })
      .catch(() => {})
    await limiter
      .execute(async () => {
        throw new Error('plain failure')
      })
      .catch(() => {})
    const controller = new AbortController()
    controller.abort(new ClientClosedError())
    await limiter
      .execute(async () => {
        throw new Error('aborted')
      }, controller.signal)
      .catch(() => {})
    expect(samples).toEqual([
      { rttMs: 30, dropped: false, inflight: 1 },
      { rttMs: 0, dropped: true, inflight: 1 },
      { rttMs: 0, dropped: true, inflight: 1 },
      { rttMs: 0, dropped: false, inflight: 1 },
    ])
  })

  it('emits limitChange when the algorithm moves the limit', async () => {
    let limit = 4
    const algo: LimitAlgorithm = {
      get limit() {
        return limit
      },
      onSample: () => {
        limit = 6
      },
    }
    const limiter = concurrencyLimiter({ name: 'x', limit: algo })
    const changes: unknown[] = []
    limiter.events.on('limitChange', (e) => changes.push(e))
    await limiter.execute(async () => 1)
    await limiter.execute(async () => 1)
    expect(changes).toEqual([{ name: 'x', from: 4, to: 6 }])
    expect(limiter.limit).toBe(6)
  })
})

describe('concurrencyLimiter: admit(), acquire() for hot paths', () => {
  it('a permit when admitted at once, the reason when refused at once, a promise when queued', async () => {
    const clock = manualClock()
    const limiter = concurrencyLimiter({ name: 'api', limit: 1, maxQueue: 1, clock })
    const seen: LimitEventMap['shed'][] = []
    limiter.events.on('shed', (e) => seen.push(e))
    let made = 0
    const signal = () => {
      made++
      return new AbortController().signal
    }
    const first = limiter.admit('normal', signal)
    expect(first).not.toBeInstanceOf(Promise)
    expect(typeof first).toBe('object')
    const queued = limiter.admit('normal', signal)
    expect(queued).toBeInstanceOf(Promise)
    expect(limiter.admit('normal', signal)).toBe('queue-full')
    expect(seen).toEqual([{ name: 'api', reason: 'queue-full', priority: 'normal' }])
    // The signal is made for the queued work only.
    expect(made).toBe(1)
    ;(first as { release(): void }).release()
    const permit = await (queued as Promise<LimitPermit>)
    expect(limiter.inflight).toBe(1)
    permit.release()
    expect(concurrencyLimiter({ limit: 1 }).admit()).not.toBe('limit')
    const noQueue = concurrencyLimiter({ limit: 1 })
    noQueue.admit()
    expect(noQueue.admit()).toBe('limit')
  })

  it('a queued admit() rejects like acquire(): timed out, or aborted with the reason', async () => {
    const clock = manualClock()
    const limiter = concurrencyLimiter({ limit: 1, maxQueue: 2, queueTimeoutMs: 100, clock })
    limiter.admit()
    const timedOut = limiter.admit() as Promise<unknown>
    const controller = new AbortController()
    const aborted = limiter.admit('normal', () => controller.signal) as Promise<unknown>
    controller.abort(new ClientClosedError())
    await expect(aborted).rejects.toBeInstanceOf(ClientClosedError)
    clock.advance(100)
    await expect(timedOut).rejects.toMatchObject({ reason: 'queue-timeout' })
    expect(limiter.queued).toBe(0)
  })

  it("acquire()'s refusal is an OverloadedError whose short stack still names the caller", async () => {
    const limiter = concurrencyLimiter({ name: 'api', limit: 1 })
    limiter.tryAcquire()
    const before = Error.stackTraceLimit
    async function callerOfTheFullLimiter(): Promise<unknown> {
      return limiter.acquire().catch((e: unknown) => e)
    }
    const error = (await callerOfTheFullLimiter()) as OverloadedError
    expect(isOverloadedError(error)).toBe(true)
    expect(error.reason).toBe('limit')
    expect(error.stack).toContain('callerOfTheFullLimiter')
    expect(error.stack?.split('\n').filter((l) => l.trimStart().startsWith('at '))).toHaveLength(2)
    expect(Error.stackTraceLimit).toBe(before)
  })
})

describe('earlyShedder (what shedEarly asks)', () => {
  const PRIORITIES = ['critical', 'normal', 'sheddable'] as const
  type Priority = (typeof PRIORITIES)[number]
  type Op = { kind: 'admit'; priority: Priority } | { kind: 'release'; index: number }

  it('sheds exactly what admit() would refuse at once (no more, no less), and otherwise changes nothing', () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('admit' as const), priority: fc.constantFrom(...PRIORITIES) }),
      fc.record({ kind: fc.constant('release' as const), index: fc.nat(40) }),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(op, { maxLength: 60 }),
        (limit, maxQueue, ops) => {
          // `asked` asks the shedder before admit(); `plain` only calls admit(). Driven
          // alike, they must agree on every outcome, state and shed event.
          const make = () => {
            const l = concurrencyLimiter({ limit, maxQueue, queueTimeoutMs: 60_000 })
            const shed: string[] = []
            l.events.on('shed', (e) => shed.push(`${e.reason}/${e.priority}`))
            const held: LimitPermit[] = []
            return { l, shed, held }
          }
          const asked = make()
          const plain = make()
          const shedder = earlyShedder(asked.l)
          expect(shedder).toBeDefined()
          const outcome = (
            side: ReturnType<typeof make>,
            entered: ReturnType<typeof asked.l.admit>,
          ): string => {
            if (typeof entered === 'string') return entered
            if (entered instanceof Promise) {
              // Queued: held once granted; a refusal later (evicted) is caught.
              entered.then((p) => side.held.push(p)).catch(() => {})
              return 'queued'
            }
            side.held.push(entered)
            return 'admitted'
          }
          for (const o of ops) {
            if (o.kind === 'release') {
              for (const side of [asked, plain])
                side.held.splice(o.index % Math.max(1, side.held.length), 1)[0]?.release()
              continue
            }
            const before = asked.l.stats()
            const shedCount = asked.shed.length
            const mayRefuse = shedder?.mayRefuseAtOnce()
            const early = shedder?.shedIfRefused(o.priority)
            // The cheap first check is a necessary condition: nothing is refused without it.
            if (early !== undefined) expect(mayRefuse).toBe(true)
            if (early === undefined) {
              expect(asked.l.stats()).toEqual(before)
              expect(asked.shed.length).toBe(shedCount)
            }
            const a = early ?? outcome(asked, asked.l.admit(o.priority))
            // Complete as well as safe: what the shedder let through, admit() did not
            // refuse at once.
            if (early === undefined) expect(['admitted', 'queued']).toContain(a)
            const b = outcome(plain, plain.l.admit(o.priority))
            expect(a).toBe(b)
            expect(asked.l.stats()).toEqual(plain.l.stats())
            expect(asked.shed).toEqual(plain.shed)
          }
          for (const side of [asked, plain]) for (const p of side.held.splice(0)) p.release()
        },
      ),
      { numRuns: 300 },
    )
  })

  it("has nothing to ask of a limiter that is not concurrencyLimiter()'s", () => {
    const own = concurrencyLimiter({ limit: 1 })
    expect(earlyShedder({ ...own, admit: own.admit.bind(own) } as typeof own)).toBeUndefined()
  })
})
