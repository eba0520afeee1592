import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { AbortSubscriber } from './index.ts'
import { AbortFanout, neverAborts } from './index.ts'
import { manualClock } from './testing.ts'

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

  it('sleep: many sleepers on one signal share its one listener; an abort rejects them all and clears their timers', async () => {
    const fanout = new AbortFanout<AbortSubscriber>()
    const clock = manualClock()
    const shutdown = new AbortController()
    const sleeps = Array.from({ length: 50 }, () => fanout.sleep(1000, shutdown.signal, clock))
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)
    expect(clock.pending()).toBe(50)
    shutdown.abort('stop')
    const settled = await Promise.allSettled(sleeps)
    expect(settled.every((r) => r.status === 'rejected' && r.reason === 'stop')).toBe(true)
    expect(clock.pending()).toBe(0)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
  })

  it('sleep: resolves after its time and lets go of the signal; <= 0 and aborted signals take no timer', async () => {
    const fanout = new AbortFanout<AbortSubscriber>()
    const clock = manualClock()
    const caller = new AbortController()
    let woke = false
    const sleeping = fanout.sleep(100, caller.signal, clock).then(() => {
      woke = true
    })
    await clock.advanceAsync(99)
    expect(woke).toBe(false)
    await clock.advanceAsync(1)
    await sleeping
    expect(woke).toBe(true)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
    await fanout.sleep(0, caller.signal, clock)
    await expect(fanout.sleep(10, AbortSignal.abort('gone'), clock)).rejects.toBe('gone')
    expect(clock.pending()).toBe(0)
  })

  it('a signal that never aborts is not watched', async () => {
    const fanout = new AbortFanout<AbortSubscriber>()
    const clock = manualClock()
    const never = neverAborts()
    const before = getEventListeners(never, 'abort').length
    fanout.add(never, { onAbort: () => {} })
    const sleeping = fanout.sleep(10, never, clock)
    expect(getEventListeners(never, 'abort')).toHaveLength(before)
    await clock.advanceAsync(10)
    await sleeping
    expect(clock.pending()).toBe(0)
  })
})
