/** What a policy hands the function it runs. */
export interface PolicyContext {
  /** Aborts when the caller gives up or a policy (timeout, deadline) cancels the call. */
  readonly signal: AbortSignal
  /** 1 for the first attempt; counted by retry policies, passed through by the rest. */
  readonly attempt: number
}

/** The function a policy runs. */
export type PolicyFn<T> = (ctx: PolicyContext) => PromiseLike<T> | T

/**
 * A policy wraps one async call: timeout, retry, circuit breaker, or several composed.
 * Cancellation comes first, as with Go's `ctx`: the caller's `signal` flows into
 * `ctx.signal`, and a policy that gives up aborts it.
 */
export interface Policy {
  /**
   * Runs `fn` under the policy.
   *
   * @param fn the call; receives `{ signal, attempt }`
   * @param signal the caller's signal; when it aborts, the call is abandoned
   * @param attempt the attempt an outer policy is on; @default 1
   */
  execute<T>(fn: PolicyFn<T>, signal?: AbortSignal, attempt?: number): Promise<T>
}

const NEVER: AbortSignal = new AbortController().signal

/** A signal that never aborts, for calls made without one. */
export function neverAborts(): AbortSignal {
  return NEVER
}

/** The policy that just calls the function: the identity of `compose`. */
export const noPolicy: Policy = {
  async execute(fn, signal = NEVER, attempt = 1) {
    return fn({ signal, attempt })
  },
}

/**
 * Composes policies, outermost first: `compose(timeout(5000), retry(), breaker)` puts a
 * 5 s budget around all retries, each of which goes through the breaker. Put a timeout
 * after the retry for a per-attempt timeout.
 *
 * @example
 * const policy = compose(timeout(2000), retry({ maxAttempts: 3 }), timeout(500))
 * await policy.execute(({ signal }) => fetch(url, { signal }))
 */
export function compose(...policies: readonly Policy[]): Policy {
  if (policies.length === 0) return noPolicy
  if (policies.length === 1) return policies[0] as Policy
  const [outer, ...rest] = policies as [Policy, ...Policy[]]
  const inner = compose(...rest)
  return {
    execute(fn, signal, attempt) {
      return outer.execute((ctx) => inner.execute(fn, ctx.signal, ctx.attempt), signal, attempt)
    },
  }
}
