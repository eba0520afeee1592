/**
 * @module
 * `@sturdy/limit/node`: Node-only overload signals for `concurrencyLimit({ pressure })`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { PressureSignal } from './pressure.ts'

/** Options of `eventLoopPressure()`. */
export interface EventLoopPressureOptions {
  /** Event-loop delay (ms, at `percentile`) above which shedding starts. toobusy-js uses 70. @default 50 */
  maxDelayMs?: number
  /** The percentile of the delay histogram compared with `maxDelayMs` (not the mean, which hides stalls). @default 99 */
  percentile?: number
  /** The delay is read (and the histogram reset) at most this often, when asked, in ms. @default 500 */
  intervalMs?: number
}

/** An event-loop-delay signal; `close()` stops its sampling. */
export interface EventLoopPressure extends PressureSignal {
  /** The delay at `percentile` over the last interval, in ms. */
  delayMs(): number
  /** Stops the histogram's sampling. Calling it twice is harmless. */
  close(): void
}

/**
 * Fractional shedding from event-loop delay, as toobusy-js does but on a percentile of
 * Node's own histogram (`perf_hooks.monitorEventLoopDelay`) rather than a timer lag
 * average: read when asked, at most once per interval, `p = clamp((delay − maxDelayMs) /
 * maxDelayMs, 0, 1)`. The delay grows with every kind of queued work, including requests
 * waiting before the middleware that a latency-based limit cannot see. No timer of its
 * own (the histogram samples on libuv's); one per process is enough: share it.
 *
 * @param options see `EventLoopPressureOptions`
 * @returns the signal, with `delayMs()` and `close()`
 * @example
 * import { concurrencyLimit } from '@sturdy/limit'
 * import { eventLoopPressure } from '@sturdy/limit/node'
 *
 * const pressure = eventLoopPressure({ maxDelayMs: 50 })
 * const limit = concurrencyLimit({ pressure })
 * // on shutdown: pressure.close()
 */
export function eventLoopPressure(options: EventLoopPressureOptions = {}): EventLoopPressure {
  const maxDelayMs = options.maxDelayMs ?? 50
  const percentile = options.percentile ?? 99
  const intervalMs = options.intervalMs ?? 500
  if (!(maxDelayMs > 0)) throw new RangeError(`maxDelayMs must be > 0, got ${maxDelayMs}`)
  if (!(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`percentile must be in (0, 100], got ${percentile}`)
  }
  if (!(intervalMs > 0)) throw new RangeError(`intervalMs must be > 0, got ${intervalMs}`)
  const histogram = monitorEventLoopDelay({ resolution: 10 })
  histogram.enable()
  let delay = 0
  let probability = 0
  let readAt = performance.now()
  let open = true
  // Read lazily, when asked and at most once an interval: no timer of our own.
  const refresh = (): void => {
    const now = performance.now()
    if (!open || now - readAt < intervalMs) return
    readAt = now
    delay = histogram.percentile(percentile) / 1e6
    histogram.reset()
    probability = Math.min(1, Math.max(0, (delay - maxDelayMs) / maxDelayMs))
  }
  return {
    probability() {
      refresh()
      return probability
    },
    delayMs() {
      refresh()
      return delay
    },
    close() {
      if (!open) return
      open = false
      histogram.disable()
      probability = 0
    },
  }
}
