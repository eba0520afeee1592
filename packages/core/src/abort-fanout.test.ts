import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { AbortSubscriber } from './index.ts'
import { AbortFanout } from './index.ts'

describe('AbortFanout', () => {
  it('one listener per signal, whatever the subscribers; each hears the reason once', () => {
    const fanout = new AbortFanout<AbortSubscriber>()
    const controller = new AbortController()
    const heard: unknown[] = []
    const subs = Array.from({ length: 100 }, (_, i) => ({
      onAbort: (reason: unknown) => heard.push([i, reason]),
    }))
    for (const s of subs) fanout.add(controller.signal, s)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    fanout.remove(controller.signal, subs[0] as AbortSubscriber)
    controller.abort('bye')
    expect(heard).toHaveLength(99)
    expect(heard[0]).toEqual([1, 'bye'])
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('the listener goes with the last subscriber; signals are kept apart', () => {
    const fanout = new AbortFanout<AbortSubscriber>()
    const a = new AbortController()
    const b = new AbortController()
    const sub = { onAbort: () => {} }
    fanout.add(a.signal, sub)
    fanout.add(b.signal, sub)
    fanout.remove(a.signal, sub)
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0)
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(1)
    fanout.remove(a.signal, sub) // twice: harmless
    fanout.remove(b.signal, sub)
    expect(getEventListeners(b.signal, 'abort')).toHaveLength(0)
  })
})
