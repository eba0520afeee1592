import type { AppliedDecision, RateLimitAlgorithm, RateLimitDecision } from './algorithm.ts'
import { LUA_NOW, positiveInteger, replyNumber } from './algorithm.ts'

/** Options of `tokenBucket`. */
export interface TokenBucketOptions {
  /** Tokens added per window: the sustained rate is `limit / windowMs`. */
  limit: number
  /** The window in ms. @default 60000 */
  windowMs?: number
  /** Most tokens the bucket holds: the burst a client may spend at once. @default limit */
  burst?: number
}

/**
 * A token bucket, run as GCRA (the generic cell rate algorithm): one number per key, the
 * time at which the bucket would be full again, instead of a token count and a refill
 * timestamp. A request of cost `n` is admitted when the bucket holds `n` tokens; refused
 * requests take nothing. The bucket starts full.
 *
 * @see https://brandur.org/rate-limiting (GCRA explained)
 * @param options see `TokenBucketOptions`
 * @returns the algorithm, for `rateLimiter({ algorithm })`
 * @example
 * // 100 requests a minute on average, bursts of up to 20
 * const algorithm = tokenBucket({ limit: 100, windowMs: 60_000, burst: 20 })
 */
export function tokenBucket(options: TokenBucketOptions): RateLimitAlgorithm {
  const limit = positiveInteger('tokenBucket limit', options.limit)
  const windowMs = positiveInteger('tokenBucket windowMs', options.windowMs, 60_000)
  const burst = positiveInteger('tokenBucket burst', options.burst, limit)
  const bucket = new Gcra(limit, windowMs, burst)
  const args = [String(bucket.interval), String(bucket.tolerance)]
  return {
    kind: 'token-bucket',
    limit,
    windowMs,
    apply: (state, nowMs, cost) => bucket.apply(state as number | undefined, nowMs, cost),
    script: SCRIPT,
    scriptArgs: (cost) => [...args, String(cost)],
    fromReply: (reply, cost) =>
      bucket.decision(replyNumber(reply, 0) === 1, replyNumber(reply, 1), cost),
  }
}

/**
 * Debts are compared with this slack (ms): absolute times near 1.7e12 ms carry about
 * 1e-4 ms of float rounding, which must never turn a full burst into a refusal.
 */
const SLACK_MS = 0.001

/**
 * The state is the theoretical arrival time (TAT): when the bucket will be full again.
 * `debt = TAT - now` is how far from full it is, in ms; a token is `interval` ms of debt
 * and the bucket holds `tolerance = burst * interval` ms of it.
 */
class Gcra {
  readonly interval: number
  readonly tolerance: number
  readonly #limit: number
  readonly #windowMs: number
  readonly #burst: number

  constructor(limit: number, windowMs: number, burst: number) {
    this.#limit = limit
    this.#windowMs = windowMs
    this.#burst = burst
    this.interval = windowMs / limit
    this.tolerance = burst * this.interval
  }

  apply(tat: number | undefined, now: number, cost: number): AppliedDecision {
    const debt = tat !== undefined && tat > now ? tat - now : 0
    const next = Math.max(0, debt + cost * this.interval)
    if (cost > 0 && next > this.tolerance + SLACK_MS) {
      return { state: debt > 0 ? tat : undefined, decision: this.decision(false, debt, cost) }
    }
    return { state: next > 0 ? now + next : undefined, decision: this.decision(true, next, cost) }
  }

  decision(allowed: boolean, debt: number, cost: number): RateLimitDecision {
    const T = this.interval
    const burst = this.#burst
    // The same test as admission (debt + n × T ≤ tolerance + slack), solved for n.
    const fits = Math.floor((this.tolerance + SLACK_MS - debt) / T)
    const remaining = Math.min(burst, Math.max(0, fits))
    const resetMs = remaining >= burst ? 0 : this.#until(debt, remaining + 1)
    let retryAfterMs = 0
    if (!allowed) {
      retryAfterMs =
        cost * T > this.tolerance + SLACK_MS ? Number.POSITIVE_INFINITY : this.#until(debt, cost)
    }
    return {
      allowed,
      limit: this.#limit,
      windowMs: this.#windowMs,
      remaining,
      resetMs,
      retryAfterMs,
    }
  }

  /** When `n` more units fit: once the debt has fallen by debt + n × interval − tolerance. */
  #until(debt: number, n: number): number {
    return Math.max(0, debt + n * this.interval - this.tolerance)
  }
}

/**
 * The same step in Lua: ARGV = interval, tolerance, cost; replies { allowed, debt }. The
 * debt travels as a string (Redis truncates Lua numbers to integers), and a refused
 * request writes nothing.
 */
const SCRIPT = `${LUA_NOW}
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local raw = redis.call('GET', KEYS[1])
local tat = raw and tonumber(raw)
local debt = 0
if tat and tat > now then debt = tat - now end
local nextDebt = debt + cost * interval
if nextDebt < 0 then nextDebt = 0 end
if cost > 0 and nextDebt > tolerance + ${SLACK_MS} then
  return {0, string.format('%.17g', debt)}
end
if cost ~= 0 then
  if nextDebt > 0 then
    redis.call('SET', KEYS[1], string.format('%.17g', now + nextDebt), 'PX', math.ceil(nextDebt))
  else
    redis.call('DEL', KEYS[1])
  end
end
return {1, string.format('%.17g', nextDebt)}
`
