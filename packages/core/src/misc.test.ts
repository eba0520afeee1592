import { describe, expect, it } from 'vitest'
import type { Exchange, Middleware } from './index.ts'
import { chain, createEmitter, isIdempotentMethod, normalizeMethod, OTHER_METHOD } from './index.ts'
import { manualClock, seededRandom } from './testing.ts'

describe('createEmitter', () => {
  it('delivers typed payloads, unsubscribes, and isolates throwing listeners', () => {
    const events = createEmitter<{ retry: { attempt: number }; done: undefined }>()
    const seen: number[] = []
    expect(events.has('retry')).toBe(false)
    events.on('retry', () => {
      throw new Error('bad observer')
    })
    const off = events.on('retry', (e) => seen.push(e.attempt))
    expect(events.has('retry')).toBe(true)
    events.emit('retry', { attempt: 1 })
    off()
    off()
    events.emit('retry', { attempt: 2 })
    events.emit('done', undefined)
    expect(seen).toEqual([1])
  })

  it('lets a listener unsubscribe while the event is being delivered', () => {
    const events = createEmitter<{ e: number }>()
    const seen: string[] = []
    const offA = events.on('e', () => {
      seen.push('a')
      offA()
    })
    events.on('e', () => seen.push('b'))
    events.emit('e', 1)
    events.emit('e', 2)
    expect(seen).toEqual(['a', 'b', 'b'])
  })

  it('drops the event entry when its last listener leaves', () => {
    const events = createEmitter<{ e: number }>()
    events.on('e', () => {})()
    expect(events.has('e')).toBe(false)
  })
})

describe('normalizeMethod', () => {
  it('keeps known methods, upper-cases them, and folds the rest into _OTHER', () => {
    expect(normalizeMethod('GET')).toBe('GET')
    expect(normalizeMethod('patch')).toBe('PATCH')
    expect(normalizeMethod('PROPFIND')).toBe(OTHER_METHOD)
    expect(normalizeMethod('')).toBe('_OTHER')
    expect(normalizeMethod('GET /x')).toBe('_OTHER')
  })

  it('knows which methods are idempotent', () => {
    expect(['GET', 'head', 'PUT', 'DELETE', 'OPTIONS'].every(isIdempotentMethod)).toBe(true)
    expect(['POST', 'PATCH', 'CONNECT'].some(isIdempotentMethod)).toBe(false)
  })
})

describe('chain', () => {
  const ex = {} as Exchange
  it('runs an onion and ends in the framework continuation', async () => {
    const log: string[] = []
    const mw =
      (n: string): Middleware =>
      async (_ex, next) => {
        log.push(`${n}>`)
        await next()
        log.push(`<${n}`)
      }
    await chain([mw('a'), mw('b')])(ex, async () => {
      log.push('handler')
    })
    expect(log).toEqual(['a>', 'b>', 'handler', '<b', '<a'])
  })

  it('an empty chain calls the continuation; a middleware may skip next()', async () => {
    let ran = 0
    await chain([])(ex, async () => {
      ran++
    })
    await chain([async () => {}])(ex, async () => {
      ran++
    })
    expect(ran).toBe(1)
  })

  it('a middleware or continuation that throws synchronously rejects the chain, never throws', async () => {
    const boom: Middleware = () => {
      throw new Error('sync')
    }
    const pass: Middleware = (_ex, next) => next()
    const throwing = (): Promise<void> => {
      throw new Error('last')
    }
    const ok = async (): Promise<void> => {}
    for (const [list, last, message] of [
      [[boom], ok, 'sync'],
      [[pass, boom], ok, 'sync'],
      [[], throwing, 'last'],
      [[pass, pass], throwing, 'last'],
    ] as const) {
      let result: Promise<void> | undefined
      expect(() => {
        result = chain(list)(ex, last)
      }).not.toThrow()
      await expect(result).rejects.toThrow(message)
    }
  })
})

describe('test seams', () => {
  it('manualClock fires due timers in order and honours clearTimeout', () => {
    const clock = manualClock(10)
    const fired: string[] = []
    clock.setTimeout(() => fired.push('b'), 20)
    const h = clock.setTimeout(() => fired.push('x'), 5)
    clock.setTimeout(() => {
      fired.push('a')
      clock.setTimeout(() => fired.push('nested'), 1)
    }, 10)
    clock.clearTimeout(h)
    expect(clock.pending()).toBe(2)
    clock.advance(9)
    expect(fired).toEqual([])
    clock.advance(1)
    expect(fired).toEqual(['a'])
    clock.advance(10)
    expect(fired).toEqual(['a', 'nested', 'b'])
    expect(clock.now()).toBe(30)
    expect(clock.pending()).toBe(0)
  })

  it('advanceAsync lets promise callbacks run between timers', async () => {
    const clock = manualClock()
    const order: string[] = []
    clock.setTimeout(() => {
      Promise.resolve().then(() => order.push('microtask'))
      order.push('t1')
    }, 1)
    clock.setTimeout(() => order.push('t2'), 2)
    await clock.advanceAsync(5)
    expect(order).toEqual(['t1', 'microtask', 't2'])
  })

  it('seededRandom repeats for a seed and stays in [0, 1)', () => {
    const a = seededRandom(42)
    const b = seededRandom(42)
    const xs = Array.from({ length: 1000 }, () => a())
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()))
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true)
    expect(new Set(xs).size).toBeGreaterThan(990)
  })
})
