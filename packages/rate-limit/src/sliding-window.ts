import type { AppliedDecision, RateLimitAlgorithm, RateLimitDecision } from './algorithm.ts'
import { LUA_NOW, positiveInteger, replyNumber } from './algorithm.ts'

/** Options of `slidingWindow`. */
export interface SlidingWindowOptions {
  /** Units admitted per window. */
  limit: number
  /** The window in ms. @default 60000 */
  windowMs?: number
}

/**
 * A sliding window counter: counts per fixed window, and the previous window's count
 * weighted by how much of it the sliding window still covers — `previous × (1 − elapsed
 * / window) + current`. Three numbers per key whatever the limit (a sliding log would
 * keep one timestamp per request), and no burst at window edges as a fixed window allows.
 * It assumes the previous window's requests were spread evenly; refused requests do not
 * count. All arithmetic is on whole ms and whole units, so the memory and Redis stores
 * decide identically.
 *
 * @see https://blog.cloudflare.com/counting-things-a-lot-of-different-things/
 * @param options see `SlidingWindowOptions`
 * @returns the algorithm, for `rateLimiter({ algorithm })`
 * @example
 * // 100 requests per rolling minute
 * const algorithm = slidingWindow({ limit: 100, windowMs: 60_000 })
 */
export function slidingWindow(options: SlidingWindowOptions): RateLimitAlgorithm {
  const limit = positiveInteger('slidingWindow limit', options.limit)
  const windowMs = positiveInteger('slidingWindow windowMs', options.windowMs, 60_000)
  const window = new Window(limit, windowMs)
  const args = [String(windowMs), String(limit)]
  return {
    kind: 'sliding-window',
    limit,
    windowMs,
    apply: (state, nowMs, cost) => window.apply(state as Counts | undefined, nowMs, cost),
    script: SCRIPT,
    scriptArgs: (cost) => [...args, String(cost)],
    fromReply: (reply, cost) =>
      window.decision(
        replyNumber(reply, 0) === 1,
        {
          w: 0,
          p: replyNumber(reply, 1),
          c: replyNumber(reply, 2),
        },
        replyNumber(reply, 3),
        cost,
      ),
  }
}

/** Per key: the index of the current window, its count, the previous window's count. */
interface Counts {
  readonly w: number
  readonly c: number
  readonly p: number
}

class Window {
  readonly #limit: number
  readonly #w: number

  constructor(limit: number, windowMs: number) {
    this.#limit = limit
    this.#w = windowMs
  }

  apply(state: Counts | undefined, nowMs: number, cost: number): AppliedDecision {
    const W = this.#w
    const ms = Math.floor(nowMs)
    const index = Math.floor(ms / W)
    const elapsed = ms - index * W
    let p = 0
    let c = 0
    if (state !== undefined) {
      if (state.w === index) {
        p = state.p
        c = state.c
      } else if (state.w === index - 1) {
        p = state.c
      }
    }
    if (cost > 0 && p * (W - elapsed) + (c + cost) * W > this.#limit * W) {
      const kept = p === 0 && c === 0 ? undefined : { w: index, c, p }
      return { state: kept, decision: this.decision(false, { w: index, c, p }, elapsed, cost) }
    }
    c = Math.max(0, c + cost)
    const next = { w: index, c, p }
    return {
      state: p === 0 && c === 0 ? undefined : next,
      decision: this.decision(true, next, elapsed, cost),
    }
  }

  decision(allowed: boolean, counts: Counts, elapsed: number, cost: number): RateLimitDecision {
    const W = this.#w
    const L = this.#limit
    const { p, c } = counts
    // Everything below is scaled by W, so it stays in whole numbers.
    const used = p * (W - elapsed) + c * W
    const remaining = Math.min(L, Math.max(0, Math.floor((L * W - used) / W)))
    const resetMs = used === 0 ? 0 : this.#until(remaining + 1, counts, elapsed)
    let retryAfterMs = 0
    if (!allowed)
      retryAfterMs = cost > L ? Number.POSITIVE_INFINITY : this.#until(cost, counts, elapsed)
    return { allowed, limit: L, windowMs: W, remaining, resetMs, retryAfterMs }
  }

  /** Ms until `units` more fit, assuming no other request arrives meanwhile. */
  #until(units: number, { p, c }: Counts, elapsed: number): number {
    const W = this.#w
    const room = (this.#limit - units) * W // the most `used` may be
    if (room < 0) return Number.POSITIVE_INFINITY
    if (p * (W - elapsed) + c * W <= room) return 0
    // Still in this window: the previous count's weight falls linearly.
    if (c * W <= room) return Math.max(0, Math.ceil(W - elapsed - (room - c * W) / p))
    // The current count becomes the previous one and falls in the next window.
    return W - elapsed + Math.ceil(W - room / c)
  }
}

/**
 * The same step in Lua: ARGV = window, limit, cost; replies { allowed, previous,
 * current, elapsed }. One hash per key (cluster-safe), expiring when its current count no
 * longer weighs anything; a refused request writes nothing.
 */
const SCRIPT = `${LUA_NOW}
local W = tonumber(ARGV[1])
local L = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local ms = math.floor(now)
local index = math.floor(ms / W)
local elapsed = ms - index * W
local s = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(s[1])
local c = tonumber(s[2]) or 0
local p = tonumber(s[3]) or 0
if w ~= index then
  if w == index - 1 then p = c else p = 0 end
  c = 0
end
if cost > 0 and p * (W - elapsed) + (c + cost) * W > L * W then
  return {0, p, c, elapsed}
end
if cost ~= 0 then
  c = c + cost
  if c < 0 then c = 0 end
  redis.call('HSET', KEYS[1], 'w', string.format('%d', index), 'c', c, 'p', p)
  redis.call('PEXPIRE', KEYS[1], 2 * W - elapsed)
end
return {1, p, c, elapsed}
`
