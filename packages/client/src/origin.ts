import type { CircuitBreaker, KeyedBreaker } from '@sturdy/breaker'
import { isBrokenCircuitError } from '@sturdy/breaker'
import type {
  Clock,
  Disposer,
  HedgeEventMap,
  LimitEventMap,
  Policy,
  Random,
  RetryEventMap,
} from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import type { AdaptiveThrottle, ConcurrencyLimiter } from '@sturdy/limit'
import {
  adaptiveThrottle,
  concurrencyLimiter,
  gradientLimit,
  isOverloadedError,
  isOverloadSignal,
  isThrottledError,
} from '@sturdy/limit'
import type { HedgePolicy, Pushback, RetryBudget, RetryFailure, RetryPolicy } from '@sturdy/retry'
import { hedge, readPushback, retry, retryBudget } from '@sturdy/retry'
import type { Dispatcher } from 'undici'
import { Pool } from 'undici'
import { isClientTimeoutError, isConnectionError, isPoolSaturatedError } from './errors.ts'
import type { EventHub } from './event-hub.ts'
import type { ClientHedgeOptions, ClientRetryOptions, OriginSettings } from './options.ts'
import { CLIENT_DEFAULTS } from './options.ts'
import type { Lane } from './transport.ts'
import type { OriginParts } from './url.ts'

/** Everything the client keeps per origin. */
export interface OriginState extends Lane, OriginParts {
  readonly settings: OriginSettings
  readonly dispatcher: Dispatcher
  /** The origin's retry: ours (`RetryPolicy`), the caller's own `Policy`, or none. */
  readonly retry: RetryPolicy | Policy | undefined
  /** The origin's hedging policy, used for idempotent calls instead of `retry`. */
  readonly hedge: HedgePolicy | undefined
  /** The origin's adaptive throttle, around each attempt. */
  readonly throttle: AdaptiveThrottle | undefined
  /** The origin's concurrency limiter, around each attempt. */
  readonly limiter: ConcurrencyLimiter | undefined
  /** Statuses our retry or hedge repeats (empty when neither is ours). */
  readonly statuses: ReadonlySet<number>
  readonly breakers: KeyedBreaker | undefined
  /** The origin's breaker from `breakers`, kept between attempts. */
  breaker: CircuitBreaker | undefined
  /** When `breaker` was last fetched from `breakers` (clock ms). */
  breakerTouched: number
  /** Closes the pool and unhooks the retry's events. */
  close(): Promise<void>
}

/** Marks each attempt's verdict: may the retry repeat it? Set by the client per failure. */
export const RETRYABLE: unique symbol = Symbol('@sturdy/client retryable') as never

/** What the client needs to build an origin. */
export interface OriginDeps {
  readonly dispatcher: ((origin: string, options: Pool.Options) => Dispatcher) | undefined
  readonly breakers: KeyedBreaker | undefined
  readonly retryEvents: EventHub<RetryEventMap>
  readonly hedgeEvents: EventHub<HedgeEventMap>
  readonly limitEvents: EventHub<LimitEventMap>
  readonly clock: Clock | undefined
  readonly random: Random | undefined
}

/**
 * Builds an origin's pool, retry policy and retry budget.
 *
 * @param parts the normalized origin
 * @param settings its resolved settings
 * @param deps client-wide collaborators
 * @returns the origin's state
 */
export function createOrigin(
  parts: OriginParts,
  settings: OriginSettings,
  deps: OriginDeps,
): OriginState {
  const poolOptions: Pool.Options = {
    connections: settings.connections,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    // A server's Keep-Alive hint may shorten the idle time, never stretch it past ours.
    keepAliveMaxTimeout: settings.keepAliveTimeoutMs,
    headersTimeout: settings.headersTimeoutMs,
    bodyTimeout: settings.bodyTimeoutMs,
    connect: { timeout: settings.connectTimeoutMs },
  }
  const dispatcher =
    deps.dispatcher === undefined
      ? new Pool(parts.origin, poolOptions)
      : deps.dispatcher(parts.origin, poolOptions)
  let retryPolicy: RetryPolicy | Policy | undefined
  let statuses: ReadonlySet<number> = EMPTY
  const unhook: Disposer[] = []
  const ours = settings.retry !== false && !isPolicy(settings.retry)
  // One budget per origin, shared by its retries and its hedges.
  const budget =
    ours || settings.hedge !== false ? budgetOf(settings.retryBudget, deps.clock) : undefined
  if (settings.retry !== false) {
    if (isPolicy(settings.retry)) {
      retryPolicy = settings.retry
    } else {
      const own = settings.retry
      statuses = new Set(own.statuses ?? CLIENT_DEFAULTS.statuses)
      const policy = retry(retryOptions(parts.origin, own, budget, deps))
      unhook.push(deps.retryEvents.add(policy.events))
      retryPolicy = policy
    }
  }
  let hedgePolicy: HedgePolicy | undefined
  if (settings.hedge !== false) {
    if (statuses === EMPTY) statuses = new Set(CLIENT_DEFAULTS.statuses)
    hedgePolicy = hedge(hedgeOptions(parts.origin, settings.hedge, budget, deps))
    unhook.push(deps.hedgeEvents.add(hedgePolicy.events))
  }
  let throttle: AdaptiveThrottle | undefined
  if (settings.throttle !== false) {
    throttle = adaptiveThrottle({
      ...settings.throttle,
      name: parts.origin,
      isRejected: refusedByOrigin,
      ...(deps.clock === undefined ? {} : { clock: deps.clock }),
      ...(deps.random === undefined ? {} : { random: deps.random }),
    })
    unhook.push(deps.limitEvents.add(throttle.events))
  }
  let limiter: ConcurrencyLimiter | undefined
  const cl = settings.concurrencyLimit
  if (cl !== false) {
    const { limit, ...rest } = cl
    limiter = concurrencyLimiter({
      ...rest,
      name: parts.origin,
      limit: typeof limit === 'number' ? limit : (limit ?? gradientLimit)(),
      ...(deps.clock === undefined ? {} : { clock: deps.clock }),
    })
    unhook.push(deps.limitEvents.add(limiter.events))
  }
  return {
    ...parts,
    settings,
    dispatcher,
    retry: retryPolicy,
    hedge: hedgePolicy,
    throttle,
    limiter,
    statuses,
    breakers: settings.breaker === false ? undefined : deps.breakers,
    breaker: undefined,
    breakerTouched: 0,
    inFlight: 0,
    async close() {
      for (const dispose of unhook) dispose()
      await dispatcher.close()
    },
  }
}

const EMPTY: ReadonlySet<number> = new Set()

function isPolicy(value: unknown): value is Policy {
  return typeof (value as { execute?: unknown }).execute === 'function'
}

function budgetOf(
  option: OriginSettings['retryBudget'],
  clock: Clock | undefined,
): RetryBudget | undefined {
  if (option === false) return undefined
  if (typeof (option as RetryBudget).tryWithdraw === 'function') return option as RetryBudget
  return retryBudget({ ...(option as object), ...(clock === undefined ? {} : { clock }) })
}

function retryOptions(
  name: string,
  own: ClientRetryOptions,
  budget: RetryBudget | undefined,
  deps: OriginDeps,
): Parameters<typeof retry>[0] {
  const { statuses: _statuses, ...rest } = own
  return {
    ...rest,
    name,
    budget,
    // The client decides per attempt (method, idempotency key, whether the request was
    // sent, whether its body can be sent again) and marks the failure.
    retryOn: retryableError,
    retryOnResult: retryableResult,
    // A connection that died under a request it may never have reached (the stale
    // keep-alive race) gets one resend for free, at once.
    consumeAttempt: (failure) => !staleSocket(failure),
    maxFreeRetries: 1,
    delay: (ctx) => (staleSocket(ctx.failure) ? 0 : undefined),
    // A rejected (retried) response was already freed by the client.
    discardResult: discard,
    // A server asking for a longer wait than the call's deadline leaves: fail at once.
    pushback: withinDeadline(own.pushback, deps.clock ?? systemClock),
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
    ...(deps.random === undefined ? {} : { random: deps.random }),
  }
}

function hedgeOptions(
  name: string,
  own: ClientHedgeOptions,
  budget: RetryBudget | undefined,
  deps: OriginDeps,
): Parameters<typeof hedge>[0] {
  return {
    ...own,
    name,
    budget,
    // The same marks as the retry's: another attempt may still win after a failure the
    // client would retry. A hedge the client refused to send (an open circuit, a full
    // pool or limiter, the deadline) must not end a call whose first attempt still runs.
    retryOn: (error, attempt) => retryableError(error) || (attempt > 1 && notSent(error)),
    retryOnResult: retryableResult,
    discardResult: discard,
    pushback: hedgePushback(deps.clock ?? systemClock),
    ...(deps.clock === undefined ? {} : { clock: deps.clock }),
  }
}

/** Stops hedging at a refusal that says more hedges would be refused too. */
function hedgePushback(clock: Clock): (failure: RetryFailure, nowEpochMs: number) => Pushback {
  const read = withinDeadline(undefined, clock) as (f: RetryFailure, now: number) => Pushback
  return (failure, nowEpochMs) =>
    failure.kind === 'error' && notSent(failure.error) ? 'stop' : read(failure, nowEpochMs)
}

/** A refusal of the client itself: the attempt never left. */
function notSent(error: unknown): boolean {
  return (
    isBrokenCircuitError(error) ||
    isPoolSaturatedError(error) ||
    isOverloadedError(error) ||
    isThrottledError(error) ||
    (isClientTimeoutError(error) && error.phase === 'deadline')
  )
}

/**
 * What the throttle counts as the origin refusing an attempt: no answer (a timeout, a
 * failed connection) or 429/503. A refusal of the client itself (a full limiter) says
 * nothing about the origin.
 */
function refusedByOrigin(value: unknown): boolean {
  if (isOverloadedError(value)) return false
  return isOverloadSignal(value) || isConnectionError(value)
}

/** Where the client puts a failure's call deadline (on its errors, and on `Attempt`s). */
export const DEADLINE: unique symbol = Symbol('@sturdy/client deadline') as never

function withinDeadline(
  own: ClientRetryOptions['pushback'],
  clock: Clock,
): false | ((failure: RetryFailure, nowEpochMs: number) => Pushback) {
  if (own === false) return false
  const read = own ?? readFailure
  return (failure, nowEpochMs) => {
    const push = read(failure, nowEpochMs)
    if (typeof push !== 'number') return push
    const value = failure.kind === 'error' ? failure.error : failure.result
    const due = (value as { [DEADLINE]?: number } | null)?.[DEADLINE]
    return due !== undefined && clock.now() + push >= due ? 'stop' : push
  }
}

function readFailure(failure: RetryFailure, nowEpochMs: number): Pushback {
  return readPushback(failure.kind === 'error' ? failure.error : failure.result, nowEpochMs)
}

function retryableError(error: unknown): boolean {
  // An open circuit fails fast: never sleep out its open period in front of it.
  if (isBrokenCircuitError(error)) return false
  return typeof error === 'object' && error !== null && (error as Marked)[RETRYABLE] === true
}

function retryableResult(result: unknown): boolean {
  return (result as Marked)[RETRYABLE] === true
}

function discard(result: unknown): void {
  ;(result as { discard?: () => void }).discard?.()
}

function staleSocket(failure: RetryFailure): boolean {
  if (failure.kind !== 'error') return false
  const e = failure.error
  return (
    isConnectionError(e) &&
    (e.errorType === 'UND_ERR_SOCKET' || e.errorType === 'ECONNRESET') &&
    (e as Marked)[RETRYABLE] === true
  )
}

interface Marked {
  [RETRYABLE]?: boolean
}
