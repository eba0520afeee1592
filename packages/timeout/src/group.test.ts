import { getEventListeners } from 'node:events'
import type { Clock } from '@sturdy/core'
import { problemFromError, TimeoutError, ValidationError } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { GroupError } from './index.ts'
import { concurrent, group, isGroupError } from './index.ts'

const unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
beforeEach(() => {
  unhandled.length = 0
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  await new Promise((resolve) => setImmediate(resolve))
  process.off('unhandledRejection', onUnhandled)
  expect(unhandled).toEqual([])
})

/** Resolves with `value` after `ms` on `clock`, or rejects with the signal's reason. */
function sleep<T>(clock: Clock, ms: number, value: T, signal: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clock.clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve(value)
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

async function settle<T>(
  p: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p }
  } catch (error) {
    return { ok: false, error }
  }
}

describe('group()', () => {
  it('returns results in go() order, whatever order they finish in', async () => {
    const clock = manualClock()
    const g = group<string>()
    g.go(({ signal }) => sleep(clock, 30, 'a', signal))
    g.go(({ signal }) => sleep(clock, 10, 'b', signal))
    g.go(() => 'c')
    const done = g.wait()
    await clock.advanceAsync(30)
    expect(await done).toEqual(['a', 'b', 'c'])
    expect(g.signal.aborted).toBe(true) // abort-on-return, like errgroup's Wait
  })

  it('the first failure aborts the siblings; wait() waits for them all, then throws one GroupError', async () => {
    const clock = manualClock()
    const g = group<string>()
    const boom = new Error('boom')
    const order: string[] = []
    let siblingReason: unknown
    g.go(async ({ signal }) => {
      try {
        return await sleep(clock, 100, 'slow', signal)
      } catch (error) {
        siblingReason = error
        throw error
      }
    })
    g.go(async ({ signal }) => {
      await sleep(clock, 10, null, signal)
      throw boom
    })
    // Ignores the signal and fails later in its own way: a second, real failure.
    g.go(async () => {
      await sleep(clock, 50, null, new AbortController().signal)
      order.push('stubborn finished')
      throw new TypeError('also broken')
    })
    const result = settle(g.wait())
    await clock.advanceAsync(10)
    expect(g.signal.aborted).toBe(true)
    expect(g.signal.reason).toBe(boom)
    expect(siblingReason).toBe(boom)
    expect(order).toEqual([])
    await clock.advanceAsync(40)
    const r = await result
    expect(order).toEqual(['stubborn finished'])
    expect(r.ok).toBe(false)
    const error = (r as { error: GroupError }).error
    expect(isGroupError(error)).toBe(true)
    expect(error.failures.map((f) => f.index)).toEqual([1, 2])
    expect(error.errors).toEqual([boom, new TypeError('also broken')])
    expect(error.cause).toBe(boom)
    expect(error.status).toBe(500)
    expect(clock.pending()).toBe(0)
  })

  it('takes status from a first failure that is a Sturdy error: a task timeout renders as 504', async () => {
    const r = await settle(
      concurrent([() => Promise.reject(new TimeoutError('inventory timed out', 200)), () => 1]),
    )
    const error = (r as { error: GroupError }).error
    expect(error.status).toBe(504)
    expect(problemFromError(error)).toEqual({
      title: 'Gateway Timeout',
      status: 504,
      code: 'GROUP_FAILED',
      detail: '1 of 2 group tasks failed: inventory timed out',
    })
  })

  it('a parent abort cancels every task and wait() rejects with the parent reason', async () => {
    const clock = manualClock()
    const parent = new AbortController()
    const g = group<number>({ signal: parent.signal, limit: 1 })
    let started = 0
    for (let i = 0; i < 3; i++) {
      g.go(({ signal }) => {
        started++
        return sleep(clock, 100, i, signal)
      })
    }
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
    const result = settle(g.wait())
    await clock.advanceAsync(20)
    const deadline = new TimeoutError('Deadline of 20 ms exceeded', 20)
    parent.abort(deadline)
    const r = await result
    expect(r).toEqual({ ok: false, error: deadline })
    expect(started).toBe(1) // the queued tasks never started
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
    expect(clock.pending()).toBe(0)
  })

  it('many concurrent groups under one parent add a single listener to it', async () => {
    const clock = manualClock()
    const parent = new AbortController()
    const warnings: Error[] = []
    const onWarning = (w: Error): void => {
      warnings.push(w)
    }
    process.on('warning', onWarning)
    try {
      const groups = Array.from({ length: 50 }, (_, i) => {
        const g = group<number>({ signal: parent.signal })
        g.go(({ signal }) => sleep(clock, 10 + i, i, signal))
        return g.wait()
      })
      expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
      await clock.advanceAsync(100)
      expect((await Promise.all(groups)).flat()).toEqual(Array.from({ length: 50 }, (_, i) => i))
      expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
      await new Promise((resolve) => setImmediate(resolve))
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
    } finally {
      process.off('warning', onWarning)
    }
  })

  it('under an already-aborted parent, nothing starts', async () => {
    const why = new Error('gone')
    const g = group({ signal: AbortSignal.abort(why) })
    let started = false
    g.go(() => {
      started = true
    })
    expect(await settle(g.wait())).toEqual({ ok: false, error: why })
    expect(started).toBe(false)
  })

  it('a task that fails before wait() is called is never an unhandled rejection; sync throws count', async () => {
    const g = group()
    g.go(() => {
      throw new Error('sync')
    })
    g.go(() => Promise.reject(new Error('async')))
    await new Promise((resolve) => setImmediate(resolve))
    const r = await settle(g.wait())
    expect((r as { error: GroupError }).error.errors.map((e) => (e as Error).message)).toEqual([
      'sync',
      'async',
    ])
  })

  it('counts a real failure after cancellation but not the cancellation echoes', async () => {
    const g = group()
    g.go(() => Promise.reject(new ValidationError('bad input')))
    g.go(
      ({ signal }) =>
        new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))),
        ),
    )
    const r = await settle(g.wait())
    const error = (r as { error: GroupError }).error
    expect(error.errors).toHaveLength(1)
    // Renders with the first failure's status, and its message because it is exposable.
    expect(problemFromError(error)).toEqual({
      title: 'Bad Request',
      status: 400,
      code: 'GROUP_FAILED',
      detail: '1 of 2 group tasks failed: bad input',
    })
  })

  it('keeps an unexposable first message out of the rendered problem', async () => {
    const r = await settle(concurrent([() => Promise.reject(new Error('db password wrong'))]))
    const problem = problemFromError((r as { error: unknown }).error)
    expect(problem).toEqual({ title: 'Internal Server Error', status: 500, code: 'GROUP_FAILED' })
  })

  it('go() after wait() settled throws; wait() twice is the same promise; empty resolves []', async () => {
    const g = group()
    const w = g.wait()
    expect(g.wait()).toBe(w)
    expect(await w).toEqual([])
    expect(() => g.go(() => 1)).toThrow(/after wait/)
  })

  it('accepts go() calls made while waiting', async () => {
    const clock = manualClock()
    const g = group<number>()
    g.go(async ({ signal }) => {
      await sleep(clock, 10, 0, signal)
      g.go(() => 2)
      return 1
    })
    const w = g.wait()
    await clock.advanceAsync(10)
    expect(await w).toEqual([1, 2])
  })

  it('rejects a nonsensical limit', () => {
    expect(() => group({ limit: 0 })).toThrow(RangeError)
    expect(() => group({ limit: 1.5 })).toThrow(RangeError)
    expect(() => group({ limit: Number.NaN })).toThrow(RangeError)
  })

  it('property: never more than `limit` tasks at once; results in order or every real failure', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ ms: fc.integer({ min: 0, max: 50 }), fail: fc.boolean() }), {
          maxLength: 12,
        }),
        fc.oneof(fc.integer({ min: 1, max: 5 }), fc.constant(Number.POSITIVE_INFINITY)),
        async (tasks, limit) => {
          const clock = manualClock()
          const g = group<number>({ limit })
          let running = 0
          let peak = 0
          const started: number[] = []
          tasks.forEach((t, i) => {
            g.go(async ({ signal, index }) => {
              expect(index).toBe(i)
              started.push(i)
              running++
              peak = Math.max(peak, running)
              try {
                await sleep(clock, t.ms, null, signal)
                if (t.fail) throw new Error(`task ${i}`)
                return i
              } finally {
                running--
              }
            })
          })
          const result = settle(g.wait())
          // Enough clock for the worst schedule (every task one after another), and no
          // more: a fixed 300 ms hung on the rare task sets that need up to 600 ms.
          let settled = false
          void result.then(() => {
            settled = true
          })
          const worst = tasks.reduce((sum, t) => sum + t.ms, 0) + 5
          for (let elapsed = 0; !settled && elapsed <= worst; elapsed += 5) {
            await clock.advanceAsync(5)
          }
          expect(settled).toBe(true)
          const r = await result
          expect(peak).toBeLessThanOrEqual(limit)
          expect(running).toBe(0)
          if (tasks.every((t) => !t.fail)) {
            expect(r).toEqual({ ok: true, value: tasks.map((_, i) => i) })
          } else {
            expect(r.ok).toBe(false)
            const error = (r as { error: GroupError }).error
            expect(isGroupError(error)).toBe(true)
            // Only started tasks can fail, each at most once, and only with its own error.
            for (const f of error.failures) {
              expect(started).toContain(f.index)
              expect((f.error as Error).message).toBe(`task ${f.index}`)
            }
            expect(new Set(error.failures.map((f) => f.index)).size).toBe(error.failures.length)
          }
          expect(g.signal.aborted).toBe(true)
          expect(clock.pending()).toBe(0)
        },
      ),
      {
        numRuns: 150,
        // The schedule that needs the most clock: twelve 50 ms tasks one at a time.
        examples: [[Array.from({ length: 12 }, () => ({ ms: 50, fail: false })), 1]],
      },
    )
  })
})

describe('concurrent()', () => {
  it('returns a typed tuple in order', async () => {
    const [n, s, b] = await concurrent([
      async () => 1,
      () => 'two',
      async ({ signal }) => signal.aborted,
    ])
    expect([n satisfies number, s satisfies string, b satisfies boolean]).toEqual([1, 'two', false])
  })

  it('fans out under a request signal and stops every sibling at the deadline', async () => {
    const clock = manualClock()
    const request = new AbortController()
    const result = settle(
      concurrent(
        [
          ({ signal }) => sleep(clock, 100, 'user', signal),
          ({ signal }) => sleep(clock, 300, 'stock', signal),
        ],
        { signal: request.signal },
      ),
    )
    await clock.advanceAsync(50)
    const deadline = new TimeoutError('Deadline of 50 ms exceeded', 50)
    request.abort(deadline)
    expect(await result).toEqual({ ok: false, error: deadline })
    expect(clock.pending()).toBe(0)
  })
})
