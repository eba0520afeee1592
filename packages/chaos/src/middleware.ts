import type { ChaosMark, Clock, Exchange, Middleware, Next } from '@sturdy/core'
import { abortKind, problemResponse, respondProblem, statusTitle, VALUES } from '@sturdy/core'
import type { ChaosControl, ChaosOptions, LatencySpec } from './control.ts'
import { ChaosState } from './control.ts'
import { InjectedFaultError } from './errors.ts'
import { routeScope } from './route-scope.ts'
import { Waits } from './wait.ts'

/** The response an `outcome` chaos middleware answers with. */
export interface ChaosResponse {
  /** An HTTP status, 200–599. */
  readonly status: number
  readonly headers?: Readonly<Record<string, string>>
  /** The body; when absent, a 4xx/5xx answers problem+json and anything else is empty. */
  readonly body?: string
}

/** What every chaos middleware takes, whatever it injects. */
export interface ChaosMiddlewareBase extends ChaosOptions {
  /**
   * The requests it may inject into, in core's `routeMatcher` syntax: `GET /users/:id`,
   * `/files/*` (any method), `*`. Matched on the method and raw path, before routing.
   * @default every request
   */
  routes?: readonly string[]
  /** Response header that marks an injected request (`<kind>; name=<name>`); `false` for none. @default 'x-sturdy-chaos' */
  header?: string | false
}

/** Options of `chaosMiddleware`: what to inject, and where. */
export type ChaosMiddlewareOptions = ChaosMiddlewareBase &
  (
    | {
        kind: 'fault'
        /** The error answered as problem+json, or a factory of one. @default an `InjectedFaultError` (503) */
        fault?: Error | ((ex: Exchange) => unknown)
      }
    | {
        kind: 'latency'
        /** The delay before the handler runs: fixed, or uniform in `{ min, max }` (ms). */
        latencyMs: LatencySpec
        /** Time source for the delay. @default systemClock, with ref'd timers */
        clock?: Clock
      }
    | {
        kind: 'outcome'
        /** The answer given instead of running the handler. @default 503 with `Retry-After: 1` */
        outcome?: ChaosResponse | ((ex: Exchange) => ChaosResponse)
      }
    | { kind: 'hang' }
    | {
        kind: 'behaviour'
        /** A side effect run before the handler (awaited); if it throws, the request fails with it. */
        behaviour: (ex: Exchange) => void | PromiseLike<void>
      }
  )

/** A chaos middleware: Sturdy middleware that is also a `ChaosControl`. */
export type ChaosMiddleware = Middleware & ChaosControl

/** The marking header's default name. */
export const CHAOS_HEADER = 'x-sturdy-chaos'

const DEFAULT_OUTCOME: ChaosResponse = { status: 503, headers: { 'retry-after': '1' } }

/**
 * Server middleware that injects a fault into `injectionRate` of the requests in scope
 * (`routes`, matched on method and path before routing), the same way in every framework:
 *
 * - `fault`: answers problem+json built from the error (503 by default); the handler does not run;
 * - `latency`: waits, then runs the handler; a request aborted meanwhile (deadline,
 *   client gone) stops waiting and the handler does not run;
 * - `outcome`: answers a substitute response (503 + `Retry-After: 1` by default);
 * - `hang`: never answers until the request signal aborts (a deadline, the client leaving);
 * - `behaviour`: runs a side effect, then the handler.
 *
 * An injected request is marked three ways, so nobody mistakes a drill for an outage:
 * the `x-sturdy-chaos` response header, a `ChaosMark` in the exchange's `VALUES.chaos`
 * list (the access log and server span show it), and an `injected` event (metrics). A
 * disabled middleware costs one property read per request.
 *
 * @param options see `ChaosMiddlewareOptions`
 * @returns the middleware, with `settings()` / `update()` to switch it at run time
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { chaosMiddleware } from '@sturdy/chaos'
 *
 * const slowPayments = chaosMiddleware({
 *   name: 'payments-slow',
 *   kind: 'latency',
 *   latencyMs: { min: 200, max: 1500 },
 *   injectionRate: 0.1,
 *   routes: ['POST /payments'],
 * })
 * const app = new Hono().use(sturdy(slowPayments))
 */
export function chaosMiddleware(options: ChaosMiddlewareOptions): ChaosMiddleware {
  const routes = options.routes === undefined ? undefined : [...options.routes]
  const inScope = routeScope(routes)
  const state = new ChaosState(options.kind, 'middleware', options, routes)
  const header = options.header === undefined ? CHAOS_HEADER : options.header
  const headerValue = `${state.kind}; name=${state.name}`
  const mark: ChaosMark = Object.freeze({ name: state.name, kind: state.kind })
  const inject = injector(options, state)

  const middleware = function chaosMiddleware(ex: Exchange, next: Next): Promise<void> {
    // The hot path: off, out of scope or not drawn, the request goes on untouched.
    if (!state.enabled || (inScope !== undefined && !inScope(ex.method, ex.path))) return next()
    if (!state.draw()) return next()
    const latencyMs = state.kind === 'latency' ? state.latency() : 0
    if (header !== false) ex.setHeader(header, headerValue)
    const marks = ex.get<readonly ChaosMark[]>(VALUES.chaos)
    ex.set(VALUES.chaos, marks === undefined ? [mark] : [...marks, mark])
    state.injected(latencyMs)
    return inject(ex, next, latencyMs)
  }
  // A function's own `name` is read-only to assignment; the chaos name replaces it, so
  // observers and the admin handler address the middleware by it.
  const { name, ...control } = state.control()
  Object.defineProperty(middleware, 'name', { value: name })
  return Object.assign(middleware, control)
}

type Inject = (ex: Exchange, next: Next, latencyMs: number) => Promise<void>

function injector(options: ChaosMiddlewareOptions, state: ChaosState): Inject {
  switch (options.kind) {
    case 'fault': {
      const fault = options.fault
      const make =
        typeof fault === 'function'
          ? fault
          : fault === undefined
            ? () => new InjectedFaultError(state.name)
            : () => fault
      return async (ex) => respondProblem(ex, make(ex))
    }
    case 'latency': {
      const waits = new Waits(options.clock)
      return async (ex, next, latencyMs) => {
        try {
          await waits.sleep(latencyMs, ex.signal)
        } catch (reason) {
          return answerAborted(ex, reason)
        }
        return next()
      }
    }
    case 'outcome': {
      const outcome = options.outcome ?? DEFAULT_OUTCOME
      if (typeof outcome !== 'function') checkResponse(outcome)
      return async (ex) => {
        const response = typeof outcome === 'function' ? checkResponse(outcome(ex)) : outcome
        respond(ex, response, state.name)
      }
    }
    case 'hang': {
      const waits = new Waits()
      return async (ex) => {
        try {
          await waits.untilAbort(ex.signal)
        } catch (reason) {
          answerAborted(ex, reason)
        }
      }
    }
    case 'behaviour': {
      const behaviour = options.behaviour
      if (typeof behaviour !== 'function') {
        throw new TypeError('a behaviour chaos middleware needs a behaviour function')
      }
      return async (ex, next) => {
        await behaviour(ex)
        return next()
      }
    }
    default:
      throw new TypeError(
        `unknown chaos kind ${JSON.stringify((options as { kind: unknown }).kind)}`,
      )
  }
}

/**
 * The request was aborted while chaos held it. A deadline middleware has usually
 * answered 504 already (`respond` is then ignored); a client that left gets nothing.
 */
function answerAborted(ex: Exchange, reason: unknown): void {
  if (ex.responded || abortKind(reason) === 'client-disconnect') return
  respondProblem(ex, reason)
}

function respond(ex: Exchange, response: ChaosResponse, name: string): void {
  if (response.body !== undefined || response.status < 400) {
    ex.respond(response.status, response.body ?? null, { ...response.headers })
    return
  }
  const problem = problemResponse({
    title: statusTitle(response.status),
    status: response.status,
    code: 'CHAOS_OUTCOME',
    detail: `Outcome injected by chaos "${name}"`,
  })
  ex.respond(problem.status, problem.body, { ...response.headers, ...problem.headers })
}

function checkResponse(response: ChaosResponse): ChaosResponse {
  const status = (response as { status?: unknown } | null)?.status
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(
      `chaos outcome status must be an integer in [200, 599], got ${String(status)}`,
    )
  }
  return response
}
