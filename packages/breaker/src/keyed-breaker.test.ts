import type { BreakerEventMap } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import type { KeyBreakerOptions } from './index.ts'
import { isBrokenCircuitError, keyedBreaker } from './index.ts'

const boom = new Error('boom')
const failWith = async (): Promise<never> => {
  throw boom
}

describe('keyedBreaker', () => {
  it('gives each key its own breaker; one observer sees them all, named by key', async () => {
    const clock = manualClock()
    const hosts = keyedBreaker({ clock, breaker: { openMs: 1000 } })
    expect(hosts.kind).toBe('breaker')
    expect(hosts.name).toBe('breakers')
    const changes: BreakerEventMap['stateChange'][] = []
    const failures: string[] = []
    hosts.events.on('stateChange', (e) => changes.push(e))
    hosts.events.on('failure', (e) => failures.push(e.name))
    for (let i = 0; i < 6; i++) await hosts.execute('a.example:443', failWith).catch(() => {})
    await hosts.execute('b.example:443', failWith).catch(() => {})
    expect(hosts.get('a.example:443').state).toBe('open')
    expect(hosts.get('b.example:443').state).toBe('closed')
    expect(changes).toEqual([
      { name: 'a.example:443', from: 'closed', to: 'open', reason: 'consecutive-failures' },
    ])
    expect(failures.filter((n) => n === 'b.example:443')).toHaveLength(1)
    const rejected = await hosts.execute('a.example:443', async () => 1).catch((e: unknown) => e)
    expect(isBrokenCircuitError(rejected) && rejected.breaker).toBe('a.example:443')
    expect(clock.pending()).toBe(0)
  })

  it('builds per-key options from a factory, once per key', async () => {
    const asked: string[] = []
    const factory = (key: string): KeyBreakerOptions => {
      asked.push(key)
      return { maxRequests: key === 'critical' ? 5 : 1 }
    }
    const set = keyedBreaker({ clock: manualClock(), breaker: factory })
    set.get('critical')
    set.get('critical')
    set.get('other')
    expect(asked).toEqual(['critical', 'other'])
    expect(set.get('critical').name).toBe('critical')
  })

  it('keeps at most maxKeys breakers, dropping the least recently used', () => {
    const set = keyedBreaker({ clock: manualClock(), maxKeys: 3 })
    const a = set.get('a')
    set.get('b')
    set.get('c')
    set.get('a') // a is now the most recent
    set.get('d')
    expect(set.size).toBe(3)
    expect([...set.keys()]).toEqual(['c', 'a', 'd'])
    expect(set.peek('b')).toBeUndefined()
    expect(set.get('a')).toBe(a)
  })

  it('drops idle breakers lazily on access, with no timer', () => {
    const clock = manualClock()
    const set = keyedBreaker({ clock, idleMs: 1000 })
    set.get('a')
    set.get('b')
    clock.advance(999)
    set.get('c')
    expect(set.size).toBe(3)
    clock.advance(1)
    set.get('c') // a and b have been idle 1000 ms
    expect([...set.keys()]).toEqual(['c'])
    expect(clock.pending()).toBe(0)
  })

  it('keeps an idle breaker while it is isolated or still inside its open period', async () => {
    const clock = manualClock()
    const set = keyedBreaker({ clock, idleMs: 1000, breaker: { openMs: 5000 } })
    for (let i = 0; i < 6; i++) await set.execute('down', failWith).catch(() => {})
    set.get('held').isolate()
    clock.advance(1500)
    set.get('x')
    expect(set.peek('down')?.state).toBe('open')
    expect(set.peek('held')?.state).toBe('isolated')
    clock.advance(4000) // down's open period is over
    set.get('x')
    set.get('x')
    expect(set.peek('down')).toBeUndefined()
    expect(set.peek('held')?.state).toBe('isolated')
  })

  it('peek does not create, delete removes', () => {
    const set = keyedBreaker({ clock: manualClock() })
    expect(set.peek('a')).toBeUndefined()
    expect(set.size).toBe(0)
    set.get('a')
    expect(set.delete('a')).toBe(true)
    expect(set.delete('a')).toBe(false)
  })
})
