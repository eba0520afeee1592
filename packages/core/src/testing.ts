/**
 * @module
 * Test seams: a manual clock and a seeded random source, so time and jitter are
 * deterministic in tests without fake global timers.
 */
import type { Clock, Random, TimerHandle } from './clock.ts'

/** A clock that moves only when told to. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms`, firing due timers in order (timers they set included). */
  advance(ms: number): void
  /** Moves time forward and lets promise callbacks run between timers. */
  advanceAsync(ms: number): Promise<void>
  /** Timers scheduled and not yet fired or cleared. */
  pending(): number
}

interface Timer {
  at: number
  seq: number
  fn: () => void
}

/**
 * Creates a manual clock starting at `start` ms.
 *
 * @example
 * const clock = manualClock()
 * clock.setTimeout(() => fired = true, 100)
 * clock.advance(100) // fired
 */
export function manualClock(start = 0): ManualClock {
  let now = start
  let seq = 0
  const timers = new Map<number, Timer>()
  const nextDue = (until: number): Timer | undefined => {
    let best: Timer | undefined
    for (const t of timers.values()) {
      if (
        t.at <= until &&
        (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq))
      ) {
        best = t
      }
    }
    return best
  }
  const clock: ManualClock = {
    now: () => now,
    setTimeout(fn, ms): TimerHandle {
      const id = ++seq
      timers.set(id, { at: now + Math.max(0, ms), seq: id, fn })
      return id
    },
    clearTimeout(handle) {
      timers.delete(handle as number)
    },
    advance(ms) {
      const until = now + ms
      for (let t = nextDue(until); t !== undefined; t = nextDue(until)) {
        timers.delete(t.seq)
        now = Math.max(now, t.at)
        t.fn()
      }
      now = until
    },
    async advanceAsync(ms) {
      const until = now + ms
      await flush()
      for (let t = nextDue(until); t !== undefined; t = nextDue(until)) {
        timers.delete(t.seq)
        now = Math.max(now, t.at)
        t.fn()
        await flush()
      }
      now = until
      await flush()
    },
    pending: () => timers.size,
  }
  return clock
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

/**
 * A seeded pseudo-random source (mulberry32): the same seed gives the same sequence.
 * @see https://gist.github.com/tommyettinger/46a874533244883189143505d203312c
 */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
