import { manualClock } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { timerWheel } from './index.ts'

describe('timerWheel()', () => {
  it('runs many deadlines on one platform timer, each at its tick and never early', () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock, resolutionMs: 10 })
    const fired: Array<[number, number]> = []
    for (let i = 0; i < 1000; i++) {
      const at = 100 + i
      wheel.schedule(at, () => fired.push([at, clock.now()]))
    }
    expect(wheel.size).toBe(1000)
    expect(clock.pending()).toBe(1)
    clock.advance(99)
    expect(fired).toEqual([])
    clock.advance(1)
    expect(fired).toEqual([[100, 100]])
    clock.advance(1000)
    expect(fired).toHaveLength(1000)
    for (const [at, when] of fired) {
      expect(when).toBeGreaterThanOrEqual(at)
      expect(when).toBeLessThan(at + 10)
    }
    expect(wheel.size).toBe(0)
    expect(clock.pending()).toBe(0)
  })

  it('cancelled deadlines never run, and an idle wheel lets go of its timer', () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock, resolutionMs: 5 })
    let ran = 0
    const timers = Array.from({ length: 100 }, (_, i) => wheel.schedule(50 + i * 7, () => ran++))
    for (const t of timers) t.cancel()
    timers[0]?.cancel() // idempotent
    expect(wheel.size).toBe(0)
    // Cancelling does not touch the platform timer (that would cost a clear + set per
    // request); it fires once, finds nothing live, and arms nothing.
    expect(clock.pending()).toBe(1)
    clock.advance(50)
    expect(clock.pending()).toBe(0)
    clock.advance(10_000)
    expect(ran).toBe(0)
  })

  it('re-arms only for an earlier tick, and keeps going after the armed one fires', () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock, resolutionMs: 5 })
    const order: string[] = []
    wheel.schedule(1000, () => order.push('late'))
    wheel.schedule(2000, () => order.push('later'))
    wheel.schedule(100, () => order.push('early'))
    expect(clock.pending()).toBe(1)
    clock.advance(100)
    expect(order).toEqual(['early'])
    expect(clock.pending()).toBe(1)
    clock.advance(2000)
    expect(order).toEqual(['early', 'late', 'later'])
    expect(clock.pending()).toBe(0)
  })

  it('fires a deadline already in the past on the next timer turn, not inline', () => {
    const clock = manualClock(1000)
    const wheel = timerWheel({ clock })
    let ran = false
    wheel.schedule(500, () => {
      ran = true
    })
    expect(ran).toBe(false)
    clock.advance(0)
    expect(ran).toBe(true)
  })

  it('runs every due callback even when one throws, then rethrows the first error', () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock })
    const ran: number[] = []
    wheel.schedule(10, () => ran.push(1))
    wheel.schedule(10, () => {
      throw new Error('first')
    })
    wheel.schedule(10, () => {
      throw new Error('second')
    })
    wheel.schedule(10, () => ran.push(4))
    wheel.schedule(500, () => ran.push(5))
    expect(() => clock.advance(10)).toThrow('first')
    expect(ran).toEqual([1, 4])
    clock.advance(500)
    expect(ran).toEqual([1, 4, 5])
    expect(clock.pending()).toBe(0)
  })

  it('a callback may schedule more deadlines, due ones included', () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock, resolutionMs: 5 })
    const seen: number[] = []
    wheel.schedule(10, () => {
      seen.push(clock.now())
      wheel.schedule(clock.now(), () => seen.push(clock.now()))
      wheel.schedule(clock.now() + 20, () => seen.push(clock.now()))
    })
    clock.advance(100)
    expect(seen).toEqual([10, 10, 30])
    expect(clock.pending()).toBe(0)
  })

  it('a deadline for a tick that already fired (or emptied) gets a fresh bucket and fires', () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock, resolutionMs: 10 })
    const fired: string[] = []
    // Tick 10 fires and its bucket is dropped; the next deadline lands in tick 10 again.
    wheel.schedule(100, () => fired.push('first'))
    clock.advance(100)
    wheel.schedule(95, () => fired.push('same tick, after it fired'))
    clock.advance(0)
    expect(fired).toEqual(['first', 'same tick, after it fired'])
    // A later bucket emptied by cancellation is dropped when an earlier tick fires; the
    // next deadline in that tick (the last one scheduled) must not land in the dropped one.
    wheel.schedule(205, () => fired.push('tick 21'))
    wheel.schedule(250, () => fired.push('cancelled')).cancel()
    clock.advance(110)
    expect(fired.at(-1)).toBe('tick 21')
    wheel.schedule(250, () => fired.push('tick 25 again'))
    clock.advance(50)
    expect(fired).toEqual(['first', 'same tick, after it fired', 'tick 21', 'tick 25 again'])
    expect(wheel.size).toBe(0)
    expect(clock.pending()).toBe(0)
  })

  it("runs a target object's onDeadline, as it runs a callback", () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock, resolutionMs: 5 })
    const calls: unknown[] = []
    const target = {
      onDeadline(this: unknown): void {
        calls.push(this)
      },
    }
    wheel.schedule(10, target)
    wheel.schedule(10, target).cancel()
    clock.advance(10)
    expect(calls).toEqual([target])
  })

  it('rejects a nonsensical resolution', () => {
    expect(() => timerWheel({ resolutionMs: 0 })).toThrow(RangeError)
    expect(() => timerWheel({ resolutionMs: Number.NaN })).toThrow(RangeError)
  })

  it('property: every live deadline fires once, within one tick after it is due; cancelled ones never', () => {
    type Op =
      | { op: 'schedule'; delay: number }
      | { op: 'cancel'; pick: number }
      | { op: 'advance'; ms: number }
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('schedule' as const), delay: fc.integer({ min: -5, max: 300 }) }),
      fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 120 }) }),
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 25 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(opArb, { maxLength: 60 }),
        (resolutionMs, start, ops) => {
          const clock = manualClock(start)
          const wheel = timerWheel({ clock, resolutionMs })
          const entries: Array<{
            at: number
            scheduledAt: number
            fired: number[]
            cancelled: boolean
            cancel(): void
          }> = []
          for (const o of ops) {
            if (o.op === 'schedule') {
              const at = clock.now() + o.delay
              const fired: number[] = []
              const t = wheel.schedule(at, () => fired.push(clock.now()))
              entries.push({
                at,
                scheduledAt: clock.now(),
                fired,
                cancelled: false,
                cancel: () => t.cancel(),
              })
            } else if (o.op === 'cancel' && entries.length > 0) {
              const e = entries[o.pick % entries.length]!
              if (e.fired.length === 0) e.cancelled = true
              e.cancel()
            } else if (o.op === 'advance') {
              clock.advance(o.ms)
            }
            const live = entries.filter((e) => !e.cancelled && e.fired.length === 0).length
            expect(wheel.size).toBe(live)
          }
          clock.advance(400 + resolutionMs)
          for (const e of entries) {
            if (e.cancelled) {
              expect(e.fired).toEqual([])
            } else {
              expect(e.fired).toHaveLength(1)
              // Exactly at the deadline rounded up to a tick (never early, less than a
              // tick late); a deadline already past when scheduled fires on the next turn.
              const tickTime = Math.ceil(e.at / resolutionMs) * resolutionMs
              expect(e.fired[0]).toBe(Math.max(tickTime, e.scheduledAt))
            }
          }
          expect(wheel.size).toBe(0)
          expect(clock.pending()).toBe(0)
        },
      ),
      { numRuns: 300 },
    )
  })
})
