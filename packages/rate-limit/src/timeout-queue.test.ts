import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import { TimeoutQueue } from './timeout-queue.ts'

function deferred<T>() {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('TimeoutQueue', () => {
  it('bounds every call with one timer, expiring in start order', async () => {
    const clock = manualClock()
    const queue = new TimeoutQueue(clock, 100, () => new Error('late'))
    const calls = [deferred<number>(), deferred<number>(), deferred<number>()]
    const results: string[] = []
    const race = (i: number) =>
      queue.race((calls[i] as { promise: Promise<number> }).promise).then(
        (v) => results.push(`${i}:ok:${v}`),
        (e: Error) => results.push(`${i}:${e.message}`),
      )
    const settled = [race(0)]
    clock.advance(40)
    settled.push(race(1))
    clock.advance(40)
    settled.push(race(2))
    expect(clock.pending()).toBe(1)
    calls[1]?.resolve(7)
    await clock.advanceAsync(20) // t = 100: call 0 expires
    expect(results).toEqual(['1:ok:7', '0:late'])
    await clock.advanceAsync(80) // t = 180: call 2 expires
    await Promise.all(settled)
    expect(results).toEqual(['1:ok:7', '0:late', '2:late'])
    expect(clock.pending()).toBe(0)
    expect(queue.pending).toBe(0)
    // a late answer after the timeout changes nothing and is not unhandled
    calls[0]?.resolve(1)
    calls[2]?.reject(new Error('gone'))
    await Promise.resolve()
  })

  it('releases its timer as soon as nothing is pending', async () => {
    const clock = manualClock()
    const queue = new TimeoutQueue(clock, 100, () => new Error('late'))
    const call = deferred<string>()
    const result = queue.race(call.promise)
    expect(clock.pending()).toBe(1)
    call.resolve('done')
    await expect(result).resolves.toBe('done')
    expect(clock.pending()).toBe(0)
  })
})
