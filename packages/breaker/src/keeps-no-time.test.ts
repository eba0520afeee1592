/**
 * A closed breaker with nothing time-based configured admits and settles calls without
 * reading its clock (hundreds of instructions per read on Node 20), and still times the
 * calls a `failure` or `success` listener will see.
 */
import { manualClock } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import { circuitBreaker } from './index.ts'

describe('a closed breaker that keeps no time', () => {
  it('reads the clock for neither admission nor a success, and still times calls for listeners', async () => {
    let reads = 0
    const clock = manualClock()
    const counting = {
      ...clock,
      now: () => {
        reads++
        return clock.now()
      },
    }
    const breaker = circuitBreaker({ clock: counting })
    reads = 0
    await breaker.execute(() => 1)
    expect(reads).toBe(0)

    const durations: number[] = []
    const off = breaker.events.on('failure', (e) => durations.push(e.durationMs))
    await expect(
      breaker.execute(async () => {
        clock.advance(40)
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(durations).toEqual([40])
    off()
  })

  it('reports 0 ms for a call admitted before the first listener subscribed', async () => {
    const clock = manualClock()
    const breaker = circuitBreaker({ clock })
    const durations: number[] = []
    await expect(
      breaker.execute(async () => {
        // Subscribed while the call runs: its start was never read.
        breaker.events.on('failure', (e) => durations.push(e.durationMs))
        clock.advance(40)
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    expect(durations).toEqual([0])
  })
})
