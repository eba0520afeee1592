import type { Interceptor } from '@connectrpc/connect'
import { ConnectError } from '@connectrpc/connect'

import type { KeyedBreaker, KeyedBreakerOptions, Outcome } from '@sturdy/breaker'
import {
  deadlineOutcome,
  isBrokenCircuitError,
  keyedBreaker,
  MIN_FAIR_BUDGET_MS,
} from '@sturdy/breaker'
import type { BreakerEventMap, Clock, Events, RpcCode } from '@sturdy/core'
import { systemClock } from '@sturdy/core'
import type { AnyRequest, AnyResponse } from './call.ts'
import { callDeadline, whenDone } from './call.ts'
import { isLostConnection, rpcCodeOf, toConnectError } from './errors.ts'

/** Options of `clientBreaker()` and `serverBreaker()`. */
export interface RpcBreakerOptions {
  /**
   * The breakers: an existing `keyedBreaker` (to share or observe it), or options for
   * one (`breaker: { failureRatio: 0.5, openMs: 5000 }`, `maxKeys`, ...).
   * @default keyedBreaker with gobreaker's defaults (more than 5 consecutive failures trip; open 60 s)
   */
  breakers?: KeyedBreaker | KeyedBreakerOptions
  /**
   * One breaker per `service`, or per `method` (`service/method`).
   * @default 'service' for clientBreaker(), 'method' for serverBreaker()
   */
  per?: 'service' | 'method'
  /**
   * The codes that count as failures; any other code is a success. CANCELLED (the
   * caller gave up) counts as neither, and so does a call lost with its HTTP/2 connection
   * (a GOAWAY, a session closed under it, a refused stream).
   * @default UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, DATA_LOSS (and RESOURCE_EXHAUSTED on a client)
   */
  failureCodes?: readonly RpcCode[]
  /**
   * A DEADLINE_EXCEEDED on a call that had less than this left of its deadline when the
   * breaker let it through counts as neither success nor failure: the caller's budget was
   * all but spent, which says nothing about the service (a few callers with nearly spent
   * budgets would otherwise trip the circuit for everyone). Without a deadline every
   * DEADLINE_EXCEEDED counts.
   * @default 50 (`MIN_FAIR_BUDGET_MS`)
   */
  minBudgetMs?: number
  /** Time source the request's deadline is on (share the server's). @default systemClock */
  clock?: Clock
}

/** A breaker interceptor, observable like any breaker (events named by key). */
export type RpcBreakerInterceptor = Interceptor & {
  readonly kind: 'breaker'
  readonly name: string
  readonly events: Events<BreakerEventMap>
  /** The breakers behind the interceptor, one per key. */
  readonly breakers: KeyedBreaker
}

const SERVER_FAILURES: readonly RpcCode[] = [
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
  'UNKNOWN',
  'DATA_LOSS',
]
const CLIENT_FAILURES: readonly RpcCode[] = [...SERVER_FAILURES, 'RESOURCE_EXHAUSTED']

/**
 * A client interceptor with a circuit breaker per remote service (or method): while
 * it is open, calls fail at once with UNAVAILABLE, `grpc-retry-pushback-ms` and a
 * `google.rpc.RetryInfo` detail saying when it may let calls through again, without
 * touching the network; the `BrokenCircuitError` is the error's `cause` (see
 * `toSturdyError`). Failures are the codes a struggling server answers
 * (`failureCodes`); CANCELLED and calls lost with their connection are excluded.
 *
 * Place it inside `clientRetry()`: the retry then fails fast on an open circuit instead
 * of sleeping out its open period.
 *
 * @param options breakers, key granularity, failure codes
 * @returns a Connect interceptor with `kind`, `name`, `events` and `breakers`
 * @example
 * const transport = createGrpcTransport({
 *   baseUrl: 'http://127.0.0.1:50051',
 *   interceptors: [clientRetry(), clientBreaker({ breakers: { breaker: { openMs: 5000 } } })],
 * })
 */
export function clientBreaker(options: RpcBreakerOptions = {}): RpcBreakerInterceptor {
  return rpcBreaker(options, 'rpc-client', 'service', CLIENT_FAILURES)
}

/**
 * A server interceptor with a circuit breaker per method (or service) of this server:
 * when a method keeps failing (its handler's errors, deadlines, its own dependencies'
 * UNAVAILABLE), calls to it are refused at once with UNAVAILABLE and pushback metadata
 * (`grpc-retry-pushback-ms`, `google.rpc.RetryInfo`) until a trial call succeeds,
 * sparing the dependency behind it. Other methods keep serving.
 *
 * @param options breakers, key granularity, failure codes
 * @returns a Connect interceptor with `kind`, `name`, `events` and `breakers`
 * @example
 * connectNodeAdapter({ routes, interceptors: [serverBreaker({ per: 'method' }), serverErrors()] })
 */
export function serverBreaker(options: RpcBreakerOptions = {}): RpcBreakerInterceptor {
  return rpcBreaker(options, 'rpc-server', 'method', SERVER_FAILURES)
}

function rpcBreaker(
  options: RpcBreakerOptions,
  name: string,
  per: 'service' | 'method',
  failures: readonly RpcCode[],
): RpcBreakerInterceptor {
  const breakers = isKeyed(options.breakers)
    ? options.breakers
    : keyedBreaker({ name, ...options.breakers })
  const byMethod = (options.per ?? per) === 'method'
  const failureCodes = new Set(options.failureCodes ?? failures)
  const minBudgetMs = options.minBudgetMs ?? MIN_FAIR_BUDGET_MS
  if (!(minBudgetMs >= 0)) throw new RangeError(`minBudgetMs must be >= 0, got ${minBudgetMs}`)
  const clock = options.clock ?? systemClock
  const outcomeOf = (error: unknown, budgetMs: number): Outcome => {
    const code = rpcCodeOf(error)
    if (code === 'CANCELLED') return 'excluded'
    // One connection event fails every call in flight on it at once; counted per call, a
    // single GOAWAY would trip the circuit. A service that is really down refuses the
    // reconnection or lets calls time out, and those count.
    if (error instanceof ConnectError && isLostConnection(error)) return 'excluded'
    if (!failureCodes.has(code)) return 'success'
    return code === 'DEADLINE_EXCEEDED' ? deadlineOutcome(budgetMs, minBudgetMs) : 'failure'
  }
  const interceptor: Interceptor = (next) =>
    async function breakerInterceptor(req: AnyRequest): Promise<AnyResponse> {
      const service = req.service.typeName
      const breaker = breakers.get(byMethod ? `${service}/${req.method.name}` : service)
      let done: (outcome: Outcome) => void
      try {
        done = breaker.allow()
      } catch (error) {
        if (isBrokenCircuitError(error)) throw toConnectError(error)
        throw error
      }
      // What the call had left when it was let through: the request's deadline on a
      // client, the caller's announced one on a server (Infinity without: all count).
      const deadline = callDeadline(req, clock)
      const budgetMs = deadline === Number.POSITIVE_INFINITY ? deadline : deadline - clock.now()
      let res: AnyResponse
      try {
        res = await next(req)
      } catch (error) {
        done(outcomeOf(error, budgetMs))
        throw error
      }
      return whenDone(res, (error) =>
        done(error === undefined ? 'success' : outcomeOf(error, budgetMs)),
      )
    }
  return Object.defineProperties(interceptor, {
    kind: { value: 'breaker', enumerable: true },
    name: { value: breakers.name, enumerable: true },
    events: { value: breakers.events, enumerable: true },
    breakers: { value: breakers, enumerable: true },
  }) as RpcBreakerInterceptor
}

function isKeyed(value: KeyedBreaker | KeyedBreakerOptions | undefined): value is KeyedBreaker {
  return typeof (value as KeyedBreaker | undefined)?.get === 'function'
}
