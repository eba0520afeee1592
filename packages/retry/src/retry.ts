import type { Emitter, Events, Policy, PolicyFn, RetryEventMap } from '@sturdy/core'
import { createEmitter, neverAborts } from '@sturdy/core'
import pRetry from 'p-retry'
import { AttemptFailed, RetryCall } from './retry-call.ts'
import type { RetryOptions, RetrySettings } from './retry-options.ts'
import { assertDeadline, resolveRetryOptions } from './retry-options.ts'

/** A retry policy: a core `Policy` that names itself and emits `RetryEventMap` events. */
export interface RetryPolicy extends Policy {
  readonly kind: 'retry'
  readonly name: string
  readonly events: Events<RetryEventMap>
  /**
   * The same policy (same events, budget and options) bounded by an absolute deadline as
   * well, e.g. the request's `ex.deadline`. The earlier of the two deadlines wins.
   *
   * @param deadline absolute deadline on the policy's clock; undefined for none
   */
  withDeadline(deadline: number | undefined): RetryPolicy
}

/**
 * Creates a retry policy: exponential backoff with jitter, safe finite defaults,
 * deadline-aware, honouring server pushback, failing fast on an open circuit breaker,
 * optionally budgeted.
 *
 * The loop is p-retry's (attempt counting, abort, `shouldConsumeRetry`); Sturdy makes
 * every decision in its `onFailedAttempt` hook (`decide()`) and does the sleeping there
 * on the injected clock, with p-retry's own delay set to zero. See the README for why.
 *
 * @param options see `RetryOptions` (every option is optional)
 * @returns a `RetryPolicy`
 * @example
 * const policy = retry({ name: 'users-api', retryOnResult: httpRetryableResult })
 * policy.events.on('retry', (e) => console.log(`retry in ${e.delayMs} ms`))
 * const res = await policy.execute(({ signal }) => fetch('http://users/1', { signal }), request.signal)
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return build(resolveRetryOptions(options), createEmitter<RetryEventMap>(), options.deadline)
}

function build(
  settings: RetrySettings,
  events: Emitter<RetryEventMap>,
  fixedDeadline: number | undefined,
): RetryPolicy {
  const policy: RetryPolicy = {
    kind: 'retry',
    name: settings.name,
    events,
    withDeadline(deadline) {
      if (deadline === undefined) return policy
      assertDeadline(deadline)
      const d = fixedDeadline === undefined ? deadline : Math.min(fixedDeadline, deadline)
      return build(settings, events, d)
    },
    execute<T>(fn: PolicyFn<T>, signal?: AbortSignal): Promise<T> {
      // The incoming attempt number is deliberately ignored: this policy owns the count.
      return run(settings, events, fixedDeadline, fn, signal ?? neverAborts())
    },
  }
  return policy
}

async function run<T>(
  settings: RetrySettings,
  events: Emitter<RetryEventMap>,
  fixedDeadline: number | undefined,
  fn: PolicyFn<T>,
  caller: AbortSignal,
): Promise<T> {
  // Throws (rejects) when the caller gave up already or the deadline leaves no time.
  const call = new RetryCall(settings, events, fn, caller, fixedDeadline)
  try {
    // The first attempt runs outside p-retry: the success path — nearly every call —
    // then costs one function call instead of p-retry's per-call setup (measured at
    // several µs on Node 20). Only a failed first attempt hands the loop to p-retry.
    // The first attempt is awaited here rather than through `call.attempt(1)`: one async
    // function (a promise and a microtask) fewer per call.
    let first: AttemptFailed
    try {
      return call.succeeded(await call.start(1), 1)
    } catch (error) {
      first = error instanceof AttemptFailed ? error : call.failed(error, 1)
    }
    await call.onFailure(first, 1)
    return await pRetry((n: number) => call.attempt(n + 1), call.loopOptions())
  } catch (error) {
    return call.settle(error)
  } finally {
    call.release()
  }
}
