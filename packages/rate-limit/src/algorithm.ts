/**
 * What a rate-limit algorithm is to the stores: one pure step over in-memory state (the
 * memory store), the same step as one Lua script (the Redis store), and one function
 * that turns either result into a `RateLimitDecision`, so both stores answer alike.
 */

/** Why the shared store did not decide, and what decided instead. */
export interface Degraded {
  /** `timeout` / `error`: this call failed; `unavailable`: a recent one did, so it was not asked. */
  readonly reason: 'timeout' | 'error' | 'unavailable'
  /** What decided: a local limit, or a blanket allow / deny. */
  readonly mode: 'local' | 'allow' | 'deny'
  /** The failure; undefined for `unavailable`. */
  readonly error: unknown
}

/** The outcome of one rate-limit decision. */
export interface RateLimitDecision {
  /** Whether the request may proceed. */
  readonly allowed: boolean
  /** The quota in units per window: `q` of `RateLimit-Policy`. */
  readonly limit: number
  /** The window in ms: `w` of `RateLimit-Policy` (for a token bucket, the time to refill `limit`). */
  readonly windowMs: number
  /** Units left after this decision: `r` of `RateLimit`. */
  readonly remaining: number
  /** Ms until more quota becomes available (`t` of `RateLimit`); 0 when the quota is full. */
  readonly resetMs: number
  /**
   * When refused: ms until a request of the same cost would be admitted (`Retry-After`),
   * `Infinity` when its cost exceeds what the algorithm can ever admit at once. 0 when allowed.
   */
  readonly retryAfterMs: number
  /** Set when the shared store could not decide and the fallback did. */
  readonly degraded?: Degraded | undefined
}

/**
 * A rate-limit algorithm: `tokenBucket()` or `slidingWindow()`. Stores call it; users
 * only pass it around.
 */
export interface RateLimitAlgorithm {
  /** Which algorithm, also part of every store key (state shapes differ). */
  readonly kind: 'token-bucket' | 'sliding-window'
  /** Units per window. */
  readonly limit: number
  /** The window in ms. */
  readonly windowMs: number
  /**
   * One decision on in-memory state at `nowMs` (whole ms). Returns the new state
   * (`undefined` when it is the same as no state at all, so the store may forget the key).
   */
  apply(state: unknown, nowMs: number, cost: number): AppliedDecision
  /** The same decision as one Lua script over `KEYS[1]`, on Redis's clock (`TIME`). */
  readonly script: string
  /** The script's `ARGV` for a decision of `cost` units. */
  scriptArgs(cost: number): string[]
  /** The decision a script reply stands for. */
  fromReply(reply: unknown, cost: number): RateLimitDecision
}

/** The result of `RateLimitAlgorithm.apply`: what to store, and what to answer. */
export interface AppliedDecision {
  /** The key's state after this decision, to store (`undefined`: nothing to keep). */
  readonly state: unknown
  /** Whether the request may go ahead, with the numbers for the headers. */
  readonly decision: RateLimitDecision
}

/** Costs are whole, non-negative units (negative ones only through refunds). */
export function checkCost(cost: number): void {
  if (!Number.isInteger(cost) || cost < 0) {
    throw new RangeError(`rate limit cost must be a non-negative integer, got ${cost}`)
  }
}

/** Reads a positive integer option, or throws a RangeError naming it. */
export function positiveInteger(
  name: string,
  value: number | undefined,
  fallback?: number,
): number {
  const v = value ?? fallback
  if (v === undefined || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`)
  }
  return v
}

/**
 * Reads the `n`th element of a script reply as a number. Redis turns Lua numbers into
 * integers, so fractional values travel as strings.
 */
export function replyNumber(reply: unknown, n: number): number {
  const v = Array.isArray(reply) ? reply[n] : undefined
  const num = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN
  if (Number.isNaN(num)) throw new TypeError(`unexpected rate limit script reply: ${String(reply)}`)
  return num
}

/**
 * The Lua prelude every script shares: effects replication (needed before a write that
 * follows `TIME` on Redis < 5; a no-op later), then the server's time in ms, with µs as
 * the fraction. Every replica reads the same clock, so no replica's skew can widen or
 * narrow a limit.
 */
export const LUA_NOW: string = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`
