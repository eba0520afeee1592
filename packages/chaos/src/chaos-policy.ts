import type { ChaosKind, Clock, Policy, PolicyContext, PolicyFn } from '@sturdy/core'
import { neverAborts } from '@sturdy/core'
import type { ChaosControl, ChaosOptions, LatencySpec } from './control.ts'
import { ChaosState } from './control.ts'
import { InjectedFaultError } from './errors.ts'
import { Waits } from './wait.ts'

/** A chaos policy: a core `Policy` that injects on purpose, switchable and observable. */
export interface ChaosPolicy extends Policy, ChaosControl {}

/** Options of `chaosFault`. */
export interface ChaosFaultOptions extends ChaosOptions {
  /** The error to throw, or a factory called per injection. @default an `InjectedFaultError` (503, `CHAOS_FAULT`) */
  fault?: Error | ((ctx: PolicyContext) => unknown)
}

/** Options of `chaosLatency`. */
export interface ChaosLatencyOptions extends ChaosOptions {
  /** The delay added before the call: fixed, or uniform in `{ min, max }` (ms). */
  latencyMs: LatencySpec
  /** Time source for the delay. @default systemClock, with ref'd timers */
  clock?: Clock
}

/** Options of `chaosOutcome`. */
export interface ChaosOutcomeOptions extends ChaosOptions {
  /** The substitute result, returned instead of calling the function. It must be of the type the call returns. */
  outcome: (ctx: PolicyContext) => unknown
}

/** Options of `chaosBehaviour`. */
export interface ChaosBehaviourOptions extends ChaosOptions {
  /** A side effect run before the call (awaited); if it throws, the call fails with it. */
  behaviour: (ctx: PolicyContext) => void | PromiseLike<void>
}

/**
 * Throws a fault instead of running the call, for `injectionRate` of calls.
 *
 * @param options see `ChaosFaultOptions`
 * @returns a `ChaosPolicy`
 * @example
 * import { compose } from '@sturdy/core'
 * import { retry } from '@sturdy/retry'
 * import { chaosFault } from '@sturdy/chaos'
 *
 * const fault = chaosFault({ name: 'db-down', injectionRate: 0.1 })
 * const policy = compose(retry(), fault) // do the retries cope with 10% failures?
 * await policy.execute(async () => 'row')
 */
export function chaosFault(options: ChaosFaultOptions = {}): ChaosPolicy {
  const state = new ChaosState('fault', 'policy', options)
  const fault = options.fault
  const make =
    typeof fault === 'function'
      ? fault
      : fault === undefined
        ? () => new InjectedFaultError(state.name)
        : () => fault
  return chaosPolicy(state, async (_fn, ctx) => {
    throw make(ctx)
  })
}

/**
 * Adds latency before the call, for `injectionRate` of calls. The wait honours the
 * caller's signal: an aborted call stops waiting at once and rejects with its reason.
 *
 * @param options see `ChaosLatencyOptions`
 * @returns a `ChaosPolicy`
 * @example
 * const slow = chaosLatency({ injectionRate: 0.05, latencyMs: { min: 200, max: 800 } })
 * await compose(timeout(500), slow).execute(({ signal }) => fetch('http://127.0.0.1:9000/', { signal }))
 */
export function chaosLatency(options: ChaosLatencyOptions): ChaosPolicy {
  const state = new ChaosState('latency', 'policy', options)
  const waits = new Waits(options.clock)
  return chaosPolicy(state, async (fn, ctx, latencyMs) => {
    await waits.sleep(latencyMs, ctx.signal)
    return fn(ctx)
  })
}

/**
 * Returns a substitute result instead of running the call, for `injectionRate` of calls
 * (e.g. a 503 response with `Retry-After`).
 *
 * @param options see `ChaosOutcomeOptions`
 * @returns a `ChaosPolicy`
 * @example
 * const unavailable = chaosOutcome({
 *   injectionRate: 0.2,
 *   outcome: () => new Response(null, { status: 503, headers: { 'retry-after': '1' } }),
 * })
 */
export function chaosOutcome(options: ChaosOutcomeOptions): ChaosPolicy {
  const state = new ChaosState('outcome', 'policy', options)
  const outcome = options.outcome
  if (typeof outcome !== 'function') throw new TypeError('chaosOutcome needs an outcome function')
  return chaosPolicy(state, async (_fn, ctx) => outcome(ctx))
}

/**
 * Never answers until the caller's signal aborts, then rejects with its reason: what a
 * stuck dependency does. Compose it inside a timeout (or give it a signal that aborts);
 * with a signal that never aborts the call never settles — it holds no timer and no
 * listener, so nothing leaks.
 *
 * @param options see `ChaosOptions`
 * @returns a `ChaosPolicy`
 * @example
 * const stuck = chaosHang({ injectionRate: 0.01 })
 * await compose(timeout(1000), stuck).execute(() => callDependency()) // TimeoutError at 1 s
 */
export function chaosHang(options: ChaosOptions = {}): ChaosPolicy {
  const state = new ChaosState('hang', 'policy', options)
  const waits = new Waits()
  return chaosPolicy(state, (_fn, ctx) => waits.untilAbort(ctx.signal))
}

/**
 * Runs a side effect before the call, for `injectionRate` of calls (fill a cache, kill
 * a connection, flip a feature flag).
 *
 * @param options see `ChaosBehaviourOptions`
 * @returns a `ChaosPolicy`
 * @example
 * const evict = chaosBehaviour({ injectionRate: 0.1, behaviour: () => cache.clear() })
 */
export function chaosBehaviour(options: ChaosBehaviourOptions): ChaosPolicy {
  const state = new ChaosState('behaviour', 'policy', options)
  const behaviour = options.behaviour
  if (typeof behaviour !== 'function') {
    throw new TypeError('chaosBehaviour needs a behaviour function')
  }
  return chaosPolicy(state, async (fn, ctx) => {
    await behaviour(ctx)
    return fn(ctx)
  })
}

type Inject = (fn: PolicyFn<unknown>, ctx: PolicyContext, latencyMs: number) => Promise<unknown>

function chaosPolicy(state: ChaosState, inject: Inject): ChaosPolicy {
  const kind: ChaosKind = state.kind
  return {
    ...state.control(),
    execute<T>(fn: PolicyFn<T>, signal: AbortSignal = neverAborts(), attempt = 1): Promise<T> {
      // Disabled, or not drawn: the call as it is, at the cost of one check.
      if (!state.enabled || !state.draw()) return call(fn, { signal, attempt })
      const latencyMs = kind === 'latency' ? state.latency() : 0
      state.injected(latencyMs)
      return inject(fn as PolicyFn<unknown>, { signal, attempt }, latencyMs) as Promise<T>
    },
  }
}

/** The call as it is; not an async function, which would cost a frame and a promise more. */
function call<T>(fn: PolicyFn<T>, ctx: PolicyContext): Promise<T> {
  try {
    return Promise.resolve(fn(ctx))
  } catch (error) {
    return Promise.reject(error)
  }
}
