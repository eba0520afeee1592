import type { CircuitBreaker, KeyedBreaker } from '@sturdy/breaker'
import { isBrokenCircuitError } from '@sturdy/breaker'
import type { Clock, Disposer, Policy, Random } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import type { Pushback, RetryBudget, RetryFailure, RetryPolicy } from '@sturdy/retry'
import { readPushback, retry, retryBudget } from '@sturdy/retry'
import type { Dispatcher } from 'undici'
import { Pool } from 'undici'
import { isConnectionError } from './errors.ts'
import type { ClientRetryOptions, OriginSettings } from './options.ts'
import { CLIENT_DEFAULTS } from './options.ts'
import type { RetryEvents } from './retry-events.ts'
import type { Lane } from './transport.ts'
import type { OriginParts } from './url.ts'

/** Everything the client keeps per origin. */
export interface OriginState extends Lane, OriginParts {
  readonly settings: OriginSettings
  readonly dispatcher: Dispatcher
  /** The origin's retry: ours (`RetryPolicy`), the caller's own `Policy`, or none. */
  readonly retry: RetryPolicy | Policy | undefined
  /** Statuses our retry repeats (empty when the retry is not ours). */
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
  readonly retryEvents: RetryEvents
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
  let unhook: Disposer | undefined
  if (settings.retry !== false) {
    if (isPolicy(settings.retry)) {
      retryPolicy = settings.retry
    } else {
      const own = settings.retry
      statuses = new Set(own.statuses ?? CLIENT_DEFAULTS.statuses)
      const budget = budgetOf(settings.retryBudget, deps.clock)
      const policy = retry(retryOptions(parts.origin, own, budget, deps))
      unhook = deps.retryEvents.add(policy.events)
      retryPolicy = policy
    }
  }
  return {
    ...parts,
    settings,
    dispatcher,
    retry: retryPolicy,
    statuses,
    breakers: settings.breaker === false ? undefined : deps.breakers,
    breaker: undefined,
    breakerTouched: 0,
    inFlight: 0,
    async close() {
      unhook?.()
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
