import type { Clock, Events, Policy, PolicyFn, RateLimitEventMap } from '@sturdy/core'
import { neverAborts, onAbort, systemClock, throwIfAborted } from '@sturdy/core'
import { RateLimitedError } from './errors.ts'
import type { RateLimiter, RateLimiterOptions } from './rate-limiter.ts'
import { rateLimiter } from './rate-limiter.ts'

/** Options of `rateLimitPolicy`. */
export interface RateLimitPolicyOptions {
  /** The limiter, or options to build one. @default rateLimiter({ name: 'rate-limit' }) */
  limiter?: RateLimiter | RateLimiterOptions
  /** The key every call through this policy spends from. @default 'default' */
  key?: string
  /** Units each call costs. @default 1 */
  cost?: number
  /**
   * Longest a call may wait for quota before it is refused: a refused call whose wait
   * fits sleeps (abortably) and asks again. 0 refuses at once. @default 0
   */
  maxWaitMs?: number
  /** Time source for the waits. @default systemClock */
  clock?: Clock
}

/** The policy, observable through its limiter's events. */
export type RateLimitPolicy = Policy & {
  readonly kind: 'rate-limit'
  readonly name: string
  readonly events: Events<RateLimitEventMap>
  readonly limiter: RateLimiter
}

/**
 * A core `Policy` that spends quota before each call: for calls this service makes (stay
 * under a partner API's limit, shared by every replica with a Redis store) or any work to
 * meter. A call that does not fit is refused with `RateLimitedError` (429,
 * `retryAfterMs`), or waits for quota up to `maxWaitMs`.
 *
 * @param options see `RateLimitPolicyOptions`
 * @returns the policy
 * @example
 * import { compose } from '@sturdy/core'
 * import { retry } from '@sturdy/retry'
 * import { rateLimitPolicy, tokenBucket } from '@sturdy/rate-limit'
 *
 * // at most 5 calls a second to the partner, waiting up to 1 s for a slot
 * const partner = rateLimitPolicy({
 *   limiter: { name: 'partner-api', algorithm: tokenBucket({ limit: 5, windowMs: 1000 }) },
 *   maxWaitMs: 1000,
 * })
 * const policy = compose(retry(), partner)
 * await policy.execute(({ signal }) => fetch('http://127.0.0.1:9000/quote', { signal }))
 */
export function rateLimitPolicy(options: RateLimitPolicyOptions = {}): RateLimitPolicy {
  const limiter = isLimiter(options.limiter) ? options.limiter : rateLimiter(options.limiter)
  const key = options.key ?? 'default'
  const cost = options.cost ?? 1
  const maxWaitMs = Math.max(0, options.maxWaitMs ?? 0)
  const clock = options.clock ?? systemClock

  async function execute<T>(
    fn: PolicyFn<T>,
    signal: AbortSignal = neverAborts(),
    attempt = 1,
  ): Promise<T> {
    let waited = 0
    for (;;) {
      throwIfAborted(signal)
      const decision = await limiter.consume(key, cost)
      if (decision.allowed) return fn({ signal, attempt })
      const wait = decision.retryAfterMs
      if (wait > maxWaitMs - waited) throw new RateLimitedError(limiter.name, wait)
      await sleep(wait, signal, clock)
      waited += wait
    }
  }

  return { execute, kind: 'rate-limit', name: limiter.name, events: limiter.events, limiter }
}

function isLimiter(value: RateLimiter | RateLimiterOptions | undefined): value is RateLimiter {
  return value !== undefined && typeof (value as RateLimiter).consume === 'function'
}

/** Waits `ms` on `clock`; rejects with the signal's reason when it aborts first. */
function sleep(ms: number, signal: AbortSignal, clock: Clock): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      dispose()
      resolve()
    }, ms)
    const dispose =
      signal === neverAborts()
        ? () => {}
        : onAbort(signal, (reason) => {
            clock.clearTimeout(timer)
            reject(reason)
          })
  })
}
