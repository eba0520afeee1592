import { describe, expect, it } from 'vitest'
import { eventLoopPressure } from './node.ts'

function block(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // a stalled event loop
  }
}

describe('eventLoopPressure (Node)', () => {
  it('reports pressure after the event loop stalls, bounded to [0, 1], and stops on close', async () => {
    const pressure = eventLoopPressure({ maxDelayMs: 20, intervalMs: 50 })
    expect(pressure.probability()).toBe(0) // not an interval yet: nothing read
    // Stall well past 2 × maxDelayMs, several times; the histogram records each stall
    // on its next tick.
    for (let i = 0; i < 3; i++) {
      block(120)
      await new Promise((r) => setTimeout(r, 15))
    }
    expect(pressure.delayMs()).toBeGreaterThan(40)
    expect(pressure.probability()).toBeGreaterThan(0)
    expect(pressure.probability()).toBeLessThanOrEqual(1)
    pressure.close()
    pressure.close()
    expect(pressure.probability()).toBe(0)
  })

  it('refuses nonsense options', () => {
    expect(() => eventLoopPressure({ maxDelayMs: 0 })).toThrow(/maxDelayMs/)
    expect(() => eventLoopPressure({ percentile: 101 })).toThrow(/percentile/)
    expect(() => eventLoopPressure({ intervalMs: 0 })).toThrow(/intervalMs/)
  })
})
