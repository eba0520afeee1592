import { getEventListeners } from 'node:events'
import type { ObservablePolicy, Policy, PolicyContext, TimeoutEventMap } from '@sturdy/core'
import { compose, isTimeoutError, TimeoutError } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { timeout, timerWheel } from './index.ts'

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
beforeEach(() => {
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  // Let any stray rejection surface before checking.
  await new Promise((resolve) => setImmediate(resolve))
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

/** A promise settled by hand, to play a slow dependency. */
function deferred<T>(): {
  promise: Promise<T>
  resolve: (v: T) => void
  reject: (e: unknown) => void
} {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Settles `p` into an inspectable state without awaiting it. */
function track<T>(p: Promise<T>): {
  state: 'pending' | 'fulfilled' | 'rejected'
  value?: T
  error?: unknown
} {
  const s: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = {
    state: 'pending',
  }
  p.then(
    (value) => {
      s.state = 'fulfilled'
      s.value = value
    },
    (error: unknown) => {
      s.state = 'rejected'
      s.error = error
    },
  )
  return s
}

describe('timeout() aggressive (default)', () => {
  it('rejects with TimeoutError at the deadline, aborts the signal, and drops the late outcome', async () => {
    const clock = manualClock()
    const policy = timeout(100, { clock })
    const events: TimeoutEventMap['timeout'][] = []
    policy.events.on('timeout', (e) => events.push(e))
    const slow = deferred<string>()
    let signal: AbortSignal | undefined
    const call = track(
      policy.execute(({ signal: s }) => {
        signal = s
        return slow.promise
      }),
    )
    await clock.advanceAsync(99)
    expect(call.state).toBe('pending')
    await clock.advanceAsync(1)
    expect(call.state).toBe('rejected')
    expect(isTimeoutError(call.error)).toBe(true)
    expect((call.error as TimeoutError).timeoutMs).toBe(100)
    expect(signal?.aborted).toBe(true)
    expect(signal?.reason).toBe(call.error)
    expect(events).toEqual([{ name: 'timeout', timeoutMs: 100, scope: 'policy' }])
    // The function gives up later: its rejection is observed, never unhandled.
    slow.reject(new Error('late'))
    await clock.advanceAsync(0)
    expect(clock.pending()).toBe(0)
  })

  it('resolves with the value when the function wins, and aborts its signal on return', async () => {
    const clock = manualClock()
    const policy = timeout(100, { clock })
    let signal: AbortSignal | undefined
    const value = await policy.execute(async ({ signal: s }) => {
      signal = s
      return 42
    })
    expect(value).toBe(42)
    expect(signal?.aborted).toBe(true)
    expect((signal!.reason as DOMException).name).toBe('AbortError')
    expect(isTimeoutError(signal?.reason)).toBe(false)
  })

  it('abortOnReturn: false leaves the signal alone after the call', async () => {
    const policy = timeout(100, { clock: manualClock(), abortOnReturn: false })
    let signal: AbortSignal | undefined
    await policy.execute(({ signal: s }) => {
      signal = s
      return 'ok'
    })
    expect(signal?.aborted).toBe(false)
  })

  it('passes a rejection through unchanged before the deadline, sync throws included', async () => {
    const policy = timeout(100, { clock: manualClock() })
    const boom = new Error('boom')
    await expect(policy.execute(() => Promise.reject(boom))).rejects.toBe(boom)
    await expect(
      policy.execute(() => {
        throw boom
      }),
    ).rejects.toBe(boom)
  })

  it('follows the caller: its abort rejects at once with its reason and reaches the function', async () => {
    const clock = manualClock()
    const policy = timeout(1000, { clock })
    const caller = new AbortController()
    let signal: AbortSignal | undefined
    const call = track(
      policy.execute(({ signal: s }) => {
        signal = s
        return new Promise<never>(() => {})
      }, caller.signal),
    )
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1)
    const why = new Error('caller gave up')
    caller.abort(why)
    await clock.advanceAsync(0)
    expect(call.state).toBe('rejected')
    expect(call.error).toBe(why)
    expect(signal?.reason).toBe(why)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
  })

  it('never starts when the caller already gave up or the budget is 0', async () => {
    const clock = manualClock()
    let calls = 0
    const fn = (): number => ++calls
    const why = new Error('gone')
    await expect(timeout(100, { clock }).execute(fn, AbortSignal.abort(why))).rejects.toBe(why)
    const zero = timeout(0, { clock })
    const seen: number[] = []
    zero.events.on('timeout', (e) => seen.push(e.timeoutMs))
    await expect(zero.execute(fn)).rejects.toBeInstanceOf(TimeoutError)
    expect(calls).toBe(0)
    expect(seen).toEqual([0])
    expect(clock.pending()).toBe(0)
  })

  it('Infinity arms no timer', async () => {
    const clock = manualClock()
    const policy = timeout(Number.POSITIVE_INFINITY, { clock })
    const slow = deferred<number>()
    const call = track(policy.execute(() => slow.promise))
    expect(clock.pending()).toBe(0)
    slow.resolve(1)
    await clock.advanceAsync(0)
    expect(call).toEqual({ state: 'fulfilled', value: 1 })
  })

  it('computes the budget per call from { attempt, signal } and passes attempt through', async () => {
    const clock = manualClock()
    const seen: PolicyContext[] = []
    const policy = timeout(({ attempt }) => attempt * 100, { clock })
    const events: number[] = []
    policy.events.on('timeout', (e) => events.push(e.timeoutMs))
    const call = track(
      policy.execute(
        (ctx) => {
          seen.push(ctx)
          return new Promise<never>(() => {})
        },
        undefined,
        3,
      ),
    )
    expect(seen[0]?.attempt).toBe(3)
    await clock.advanceAsync(299)
    expect(call.state).toBe('pending')
    await clock.advanceAsync(1)
    expect(call.state).toBe('rejected')
    expect(events).toEqual([300])
  })

  it('rejects nonsensical budgets', async () => {
    expect(() => timeout(-1)).toThrow(RangeError)
    expect(() => timeout(Number.NaN)).toThrow(RangeError)
    await expect(timeout(() => -5).execute(() => 1)).rejects.toBeInstanceOf(RangeError)
  })

  it('is an ObservablePolicy', () => {
    const p: ObservablePolicy = timeout(10, { name: 'inventory' })
    expect([p.kind, p.name]).toEqual(['timeout', 'inventory'])
  })
})

describe('timeout() cooperative', () => {
  it('aborts at the deadline, then waits for the function; its abort error becomes a TimeoutError', async () => {
    const clock = manualClock()
    const policy = timeout(50, { clock, mode: 'cooperative' })
    const release = deferred<void>()
    const call = track(
      policy.execute(
        ({ signal }) =>
          new Promise<never>((_, reject) => {
            signal.addEventListener('abort', () => {
              // Cleanup takes a while; the policy must wait for it.
              release.promise.then(() => reject(new DOMException('aborted', 'AbortError')))
            })
          }),
      ),
    )
    await clock.advanceAsync(50)
    expect(call.state).toBe('pending')
    release.resolve()
    await clock.advanceAsync(0)
    expect(call.state).toBe('rejected')
    expect(isTimeoutError(call.error)).toBe(true)
    expect(((call.error as TimeoutError).cause as DOMException).name).toBe('AbortError')
  })

  it('keeps a value the function still produced after the deadline', async () => {
    const clock = manualClock()
    const policy = timeout(50, { clock, mode: 'cooperative' })
    const slow = deferred<string>()
    const call = track(policy.execute(() => slow.promise))
    await clock.advanceAsync(60)
    expect(call.state).toBe('pending')
    slow.resolve('done anyway')
    await clock.advanceAsync(0)
    expect(call).toEqual({ state: 'fulfilled', value: 'done anyway' })
  })

  it('rethrows the very TimeoutError when the function rejects with signal.reason', async () => {
    const clock = manualClock()
    const policy = timeout(50, { clock, mode: 'cooperative' })
    let reason: unknown
    const call = track(
      policy.execute(
        ({ signal }) =>
          new Promise<never>((_, reject) => {
            signal.addEventListener('abort', () => {
              reason = signal.reason
              reject(signal.reason)
            })
          }),
      ),
    )
    await clock.advanceAsync(50)
    expect(call.error).toBe(reason)
  })
})

/** The smallest retry loop that honours the Policy contract, for composition tests. */
function retryN(max: number): Policy {
  return {
    async execute(fn, signal, _attempt) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn({ signal: signal ?? new AbortController().signal, attempt })
        } catch (error) {
          if (attempt >= max || signal?.aborted) throw error
        }
      }
    },
  }
}

describe('timeout() in compose()', () => {
  it('inside a retry bounds each attempt; outside it bounds them all', async () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock })
    const attempts: number[] = []
    const policy = compose(
      timeout(250, { wheel, name: 'total' }),
      retryN(5),
      timeout(100, { wheel, name: 'attempt' }),
    )
    const call = track(
      policy.execute(({ attempt }) => {
        attempts.push(attempt)
        return new Promise<never>(() => {})
      }),
    )
    await clock.advanceAsync(100)
    expect(attempts).toEqual([1, 2])
    await clock.advanceAsync(100)
    expect(attempts).toEqual([1, 2, 3])
    await clock.advanceAsync(50)
    expect(call.state).toBe('rejected')
    expect(isTimeoutError(call.error)).toBe(true)
    expect((call.error as TimeoutError).timeoutMs).toBe(250)
    expect(attempts).toEqual([1, 2, 3])
    await clock.advanceAsync(1000)
    expect(wheel.size).toBe(0)
    expect(clock.pending()).toBe(0)
  })

  it('10,000 calls that time out leave no timer and no listener on the caller signal', async () => {
    const clock = manualClock()
    const wheel = timerWheel({ clock })
    const policy = timeout(100, { wheel })
    const caller = new AbortController()
    let rejected = 0
    const warnings: Error[] = []
    const onWarning = (w: Error): void => {
      warnings.push(w)
    }
    process.on('warning', onWarning)
    try {
      const calls = Array.from({ length: 10_000 }, (_, i) =>
        policy
          .execute(() => new Promise<never>(() => {}), caller.signal, 1 + (i % 3))
          .catch((e: unknown) => {
            if (isTimeoutError(e)) rejected++
          }),
      )
      expect(wheel.size).toBe(10_000)
      await clock.advanceAsync(100)
      await Promise.all(calls)
      expect(rejected).toBe(10_000)
      expect(wheel.size).toBe(0)
      expect(clock.pending()).toBe(0)
      expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })
})
