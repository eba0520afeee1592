import { getEventListeners } from 'node:events'
import { describe, expect, it } from 'vitest'
import {
  deadlineIn,
  linkSignals,
  neverAborts,
  onAbort,
  outgoingBudget,
  remaining,
  throwIfAborted,
} from './index.ts'
import { manualClock } from './testing.ts'

const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length

describe('linkSignals', () => {
  it('aborts with the first input reason and detaches from all inputs', () => {
    const a = new AbortController()
    const b = new AbortController()
    const linked = linkSignals(a.signal, b.signal)
    expect(listeners(a.signal)).toBe(1)
    const why = new Error('first')
    b.abort(why)
    a.abort(new Error('second'))
    expect(linked.signal.aborted).toBe(true)
    expect(linked.signal.reason).toBe(why)
    expect(listeners(a.signal)).toBe(0)
    expect(listeners(b.signal)).toBe(0)
  })

  it('is already aborted when an input is, attaching nothing', () => {
    const live = new AbortController()
    const why = new Error('gone')
    const linked = linkSignals(live.signal, AbortSignal.abort(why))
    expect(linked.signal.aborted).toBe(true)
    expect(linked.signal.reason).toBe(why)
    expect(listeners(live.signal)).toBe(0)
  })

  it('returns a single input as is, and a never-aborting signal for none', () => {
    const a = new AbortController()
    expect(linkSignals(undefined, a.signal, undefined).signal).toBe(a.signal)
    expect(listeners(a.signal)).toBe(0)
    expect(linkSignals().signal.aborted).toBe(false)
  })

  it('never listens to neverAborts(), shared by every call made without a signal', () => {
    // Calls without a caller signal (a retry around a detached call) all link to it:
    // one listener each would trip MaxListenersExceededWarning at 11 concurrent calls.
    const warnings: Error[] = []
    const onWarning = (w: Error): void => {
      warnings.push(w)
    }
    process.on('warning', onWarning)
    const linked = Array.from({ length: 20 }, () =>
      linkSignals(neverAborts(), new AbortController().signal),
    )
    expect(listeners(neverAborts())).toBe(0)
    for (const l of linked) l.dispose()
    const timer = new AbortController()
    expect(linkSignals(neverAborts(), timer.signal).signal).toBe(timer.signal)
    expect(linkSignals(neverAborts()).signal).toBe(neverAborts())
    process.off('warning', onWarning)
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  it('dispose() removes its listeners; twice is harmless; `using` works', () => {
    const long = new AbortController()
    const other = new AbortController()
    {
      using linked = linkSignals(long.signal, other.signal)
      expect(linked.signal.aborted).toBe(false)
      expect(listeners(long.signal)).toBe(1)
    }
    expect(listeners(long.signal)).toBe(0)
    const again = linkSignals(long.signal, other.signal)
    again.dispose()
    again.dispose()
    expect(listeners(long.signal)).toBe(0)
    long.abort()
    expect(again.signal.aborted).toBe(false)
  })

  it('leaves no listener on a long-lived signal after 10,000 combined and disposed signals', () => {
    const shutdown = new AbortController()
    const warnings: unknown[] = []
    const onWarning = (w: unknown): void => {
      warnings.push(w)
    }
    process.on('warning', onWarning)
    try {
      for (let i = 0; i < 10_000; i++) {
        const request = new AbortController()
        const linked = linkSignals(shutdown.signal, request.signal)
        if (i % 2 === 0) request.abort()
        linked.dispose()
      }
      expect(listeners(shutdown.signal)).toBe(0)
    } finally {
      process.off('warning', onWarning)
    }
    expect(warnings).toEqual([])
    // A leak check, not a timing one: 10,000 rounds may take seconds on a loaded machine.
  }, 30_000)
})

describe('onAbort', () => {
  it('calls back once on abort and can be disposed before', () => {
    const c = new AbortController()
    const seen: unknown[] = []
    onAbort(c.signal, (r) => seen.push(r))
    expect(listeners(c.signal)).toBe(1)
    c.abort('why')
    c.abort('again')
    expect(seen).toEqual(['why'])
    expect(listeners(c.signal)).toBe(0)
    const d = new AbortController()
    onAbort(d.signal, () => seen.push('never'))()
    d.abort()
    expect(seen).toEqual(['why'])
  })

  it('calls back at once for an already-aborted signal', () => {
    const seen: unknown[] = []
    onAbort(AbortSignal.abort('early'), (r) => seen.push(r))
    expect(seen).toEqual(['early'])
  })

  it('throwIfAborted throws the reason', () => {
    expect(() => throwIfAborted(AbortSignal.abort('r'))).toThrow('r')
    expect(() => throwIfAborted(undefined)).not.toThrow()
  })
})

describe('deadlines', () => {
  it('computes deadlines and the remaining budget on the clock', () => {
    const clock = manualClock(1_000)
    const d = deadlineIn(300, clock)
    expect(d).toBe(1_300)
    expect(remaining(d, clock)).toBe(300)
    clock.advance(250)
    expect(remaining(d, clock)).toBe(50)
    clock.advance(100)
    expect(remaining(d, clock)).toBe(0)
    expect(deadlineIn(-5, clock)).toBe(clock.now())
  })

  it('treats undefined and Infinity as no deadline', () => {
    const clock = manualClock()
    expect(remaining(undefined, clock)).toBe(Number.POSITIVE_INFINITY)
    expect(deadlineIn(Number.POSITIVE_INFINITY, clock)).toBe(Number.POSITIVE_INFINITY)
    expect(outgoingBudget(undefined, 5, clock)).toBe(Number.POSITIVE_INFINITY)
  })

  it('keeps a safety margin for outgoing calls, never below zero', () => {
    const clock = manualClock()
    const d = deadlineIn(100, clock)
    expect(outgoingBudget(d, 10, clock)).toBe(90)
    expect(outgoingBudget(d, undefined, clock)).toBe(95)
    clock.advance(97)
    expect(outgoingBudget(d, 10, clock)).toBe(0)
  })
})
