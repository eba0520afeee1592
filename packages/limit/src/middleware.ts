import type {
  Events,
  Exchange,
  LimitEventMap,
  LimitPriority,
  LimitStats,
  Middleware,
  Next,
  Random,
  ShedReason,
} from '@sturdy/core'
import { isTimeoutError, routeMatcher, systemRandom } from '@sturdy/core'
import type { IncomingTimeoutOptions } from '@sturdy/timeout'
import { readIncomingTimeout } from '@sturdy/timeout'
import type { ConcurrencyLimiter, ConcurrencyLimiterOptions, LimitPermit } from './limiter.ts'
import { concurrencyLimiter, earlyShedder, reportShed } from './limiter.ts'
import type { PressureSignal } from './pressure.ts'
import { RecentMedian } from './recent-median.ts'
import type { ShedAnswer } from './shed-answer.ts'
import { shedAnswers } from './shed-answer.ts'

/** A request's priority: a limiter class, or `never` — always served, never counted. */
export type RoutePriority = LimitPriority | 'never'

/** A priority rule for the requests of a route. */
export interface LimitRoute {
  /**
   * A core route pattern (`routeMatcher`): `GET /users/:id`, `/healthz` (any method),
   * `POST /admin/*`, or `*`.
   */
  route: string
  /**
   * The requests' priority. `never`: not limited at all (health and readiness probes,
   * routes that must always answer): admitted, not counted, not measured.
   */
  priority: RoutePriority
}

/** Options of `concurrencyLimit()`; the limiter's own options apply unless `limiter` is given. */
export interface ConcurrencyLimitOptions extends Omit<ConcurrencyLimiterOptions, 'isDropped'> {
  /** A limiter to use (to share or observe it); the limiter options above are then ignored. @default a new `concurrencyLimiter(options)` named 'http-server' */
  limiter?: ConcurrencyLimiter
  /**
   * Priority rules; when several match, the most specific pattern wins (core
   * `routeMatcher` precedence). Requests no rule matches are `normal`. Each rule also
   * keeps its own recent p50 for the deadline check.
   * @default []
   */
  routes?: readonly LimitRoute[]
  /**
   * A request header that sets the priority (`critical`, `normal` or `sheddable`; other
   * values are ignored, and it can never say `never`). Only name one a trusted proxy
   * sets: clients could otherwise promote themselves. Route rules win over it.
   * @default undefined (off)
   */
  priorityHeader?: string
  /**
   * Shed at once a request whose remaining time is below the recent p50 of its route
   * rule (or of all unruled requests): the answer would come after its caller stopped
   * waiting. The deadline is `ex.deadline` when `@sturdy/timeout`'s `deadline()` runs
   * first (on the same clock), else the one the caller sent (`grpc-timeout`,
   * `connect-timeout-ms`, `x-request-timeout-ms`; an object picks headers). `false` is off.
   * @default true
   */
  deadline?: boolean | IncomingTimeoutOptions
  /**
   * A runtime overload signal (`eventLoopPressure()` from `@sturdy/limit/node`): sheds a
   * share of `normal` requests (twice that of `sheddable` ones) before they reach the
   * limiter, with reason `pressure`. `critical` and `never` requests are not affected.
   * @default undefined (latency only)
   */
  pressure?: PressureSignal
  /** Random source for `pressure` shedding. @default systemRandom */
  random?: Random
  /** Requests a route needs measured before its p50 is trusted for the deadline check (at most 64). @default 20 */
  deadlineMinSamples?: number
  /**
   * A route's p50 with no new sample for this long is forgotten (the deadline check is
   * off for it until `deadlineMinSamples` fresh ones). Requests shed on their deadline add
   * no sample: without this, a p50 learnt in a bad spell would shed every later request
   * with the same budget, forever.
   * @default 1000
   */
  deadlineStaleMs?: number
  /**
   * Which finished requests were dropped from overload (fed to loss-based algorithms
   * such as `aimdLimit()` and `vegasLimit()`).
   * @default a 503 or 504 status, or a TimeoutError thrown
   */
  isDropped?: (ex: Exchange) => boolean
}

/** The middleware, observable like the limiter behind it. */
export type ConcurrencyLimitMiddleware = Middleware & {
  readonly kind: 'limit'
  readonly name: string
  readonly events: Events<LimitEventMap>
  readonly stats: () => LimitStats
  /** The limiter behind the middleware. */
  readonly limiter: ConcurrencyLimiter
}

interface Rule {
  readonly priority: RoutePriority
  readonly p50: RecentMedian
}

const SETTLED: Promise<void> = Promise.resolve()

/**
 * The middleware's early decision, for `shedEarly()` (`@sturdy/limit/node`); defined
 * only when its limiter can be asked ahead of `admit()`.
 */
export const EARLY: unique symbol = Symbol('sturdy.limit.early')

/** See `EARLY`. */
export interface EarlyDecision {
  /** False when the limiter could refuse nothing at once right now: no need to look closer. */
  mayRefuse(): boolean
  /**
   * The answer for a request the limiter would refuse at once right now (the shed
   * counted and reported), or `undefined` to let it through to the framework.
   * `headers`: the request's, by lower-case name (`node:http`'s `req.headers`).
   */
  decide(
    method: string,
    path: string,
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ): ShedAnswer | undefined
}

const HEADER_PRIORITIES: ReadonlySet<string> = new Set(['critical', 'normal', 'sheddable'])

/**
 * Server load shedding with an adaptive concurrency limit. Mount it first: when the
 * limit is reached the request is answered at once — 503 `application/problem+json`
 * with `Retry-After`, pre-rendered, before any handler work — and a request whose
 * deadline would pass before its route usually answers gets a 504 at once. The limit
 * adapts to the service's capacity from the latency of admitted requests
 * (`gradientLimit()` by default), or is a fixed number (a bulkhead, optionally with a
 * bounded queue). Priorities decide who is shed first: `sheddable` before `normal`
 * before `critical`, and `never` routes (health probes) are never shed.
 *
 * @param options see `ConcurrencyLimitOptions` (and `ConcurrencyLimiterOptions`)
 * @returns a named middleware that also exposes `kind`, `name`, `events`, `stats` and `limiter`
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { concurrencyLimit } from '@sturdy/limit'
 *
 * const app = new Hono().use(
 *   sturdy(
 *     concurrencyLimit({
 *       routes: [
 *         { route: 'GET /healthz', priority: 'never' },
 *         { route: 'POST /checkout', priority: 'critical' },
 *         { route: 'GET /recommendations', priority: 'sheddable' },
 *       ],
 *     }),
 *   ),
 * )
 * app.get('/healthz', (c) => c.text('ok'))
 */
export function concurrencyLimit(
  options: ConcurrencyLimitOptions = {},
): ConcurrencyLimitMiddleware {
  const limiter =
    options.limiter ??
    concurrencyLimiter({ ...options, name: options.name ?? 'http-server', isDropped: undefined })
  const clock = limiter.clock
  const minSamples = Math.min(64, Math.max(1, Math.floor(options.deadlineMinSamples ?? 20)))
  const staleMs = options.deadlineStaleMs ?? 1000
  if (!(staleMs > 0)) throw new RangeError(`deadlineStaleMs must be > 0, got ${staleMs}`)
  const routes = options.routes ?? []
  const rules = routeMatcher<Rule>(
    routes.map((r) => [
      r.route,
      { priority: r.priority, p50: new RecentMedian(minSamples, staleMs) },
    ]),
  )
  const ruled = routes.length > 0
  const unruled: Rule = { priority: 'normal', p50: new RecentMedian(minSamples, staleMs) }
  const priorityHeader = options.priorityHeader?.toLowerCase()
  const deadlineOption = options.deadline ?? true
  const incoming: IncomingTimeoutOptions | undefined =
    deadlineOption === false ? undefined : deadlineOption === true ? {} : deadlineOption
  const checkDeadline = deadlineOption !== false
  const isDropped = options.isDropped ?? droppedResponse
  const answers = shedAnswers(options.retryAfterMs ?? 1000)
  const queueing = limiter.maxQueue > 0
  const pressure = options.pressure
  const random = options.random ?? systemRandom

  const shed = (ex: Exchange, answer: ShedAnswer): void => {
    ex.respond(answer.status, answer.body, answer.headers)
  }

  /** The header that may set a request's priority: read for unruled requests only. */
  const headerOf = (rule: Rule): string | undefined =>
    rule === unruled ? priorityHeader : undefined
  /** The rule's priority, or the one `sent` in the priority header when it names one. */
  const priorityOf = (rule: Rule, sent: string | undefined): LimitPriority =>
    sent !== undefined && HEADER_PRIORITIES.has(sent)
      ? (sent as LimitPriority)
      : (rule.priority as LimitPriority)

  const shedder = earlyShedder(limiter)
  const early: EarlyDecision | undefined =
    shedder === undefined
      ? undefined
      : {
          mayRefuse: () => shedder.mayRefuseAtOnce(),
          decide(method, path, headers) {
            const rule = ruled ? (rules.match(method, path) ?? unruled) : unruled
            if (rule.priority === 'never') return undefined
            const name = headerOf(rule)
            const sent = name === undefined ? undefined : headers[name]
            const refused = shedder.shedIfRefused(
              priorityOf(rule, typeof sent === 'string' ? sent : undefined),
            )
            return refused === undefined ? undefined : answers[refused]
          },
        }

  /** Runs the admitted request and reports its outcome to the limiter. */
  const serve = async (
    ex: Exchange,
    next: Next,
    permit: LimitPermit,
    rule: Rule,
  ): Promise<void> => {
    const start = clock.now()
    let dropped = false
    try {
      await next()
      dropped = isDropped(ex)
    } catch (error) {
      // Adapters that rethrow: the status may not be final yet.
      dropped = isTimeoutError(error) || isDropped(ex)
      throw error
    } finally {
      if (checkDeadline) {
        const end = clock.now()
        rule.p50.add(end - start, end)
      }
      permit.release(ex.aborted && !dropped ? 'ignore' : dropped ? 'dropped' : 'success')
    }
  }

  /** A queued request: wait for a slot, or answer why not. */
  const wait = async (
    ex: Exchange,
    next: Next,
    queued: Promise<LimitPermit>,
    rule: Rule,
  ): Promise<void> => {
    let permit: LimitPermit
    try {
      permit = await queued
    } catch (error) {
      const reason = (error as { reason?: ShedReason }).reason
      // An abort while queued (client gone, shutdown) answers nothing here.
      if (reason === 'queue-full' || reason === 'queue-timeout' || reason === 'limit') {
        shed(ex, answers[reason])
      }
      return
    }
    return serve(ex, next, permit, rule)
  }

  // Not `async`: a shed request returns one shared, settled promise, so shedding
  // allocates nothing of its own (an async function would make a promise per call).
  const middleware = function concurrencyLimit(ex: Exchange, next: Next): Promise<void> {
    const rule = ruled ? (rules.match(ex.method, ex.path) ?? unruled) : unruled
    if (rule.priority === 'never') return next()
    const name = headerOf(rule)
    const priority = priorityOf(rule, name === undefined ? undefined : ex.header(name))
    if (checkDeadline) {
      const remaining =
        ex.deadline !== undefined ? ex.deadline - clock.now() : readIncomingTimeout(ex, incoming)
      // The clock is read only for a request that has a deadline.
      if (remaining !== undefined && (remaining <= 0 || remaining < rule.p50.at(clock.now()))) {
        reportShed(limiter, 'deadline', priority)
        shed(ex, answers.deadline)
        return SETTLED
      }
    }
    if (pressure !== undefined && priority !== 'critical') {
      const p = pressure.probability()
      if (p > 0 && random() < (priority === 'sheddable' ? 2 * p : p)) {
        reportShed(limiter, 'pressure', priority)
        shed(ex, answers.pressure)
        return SETTLED
      }
    }
    // Refused at once: no error, no promise of its own (`admit`, not `acquire`); the
    // request's signal is made only for a request that waits.
    const entered = limiter.admit(priority, queueing ? () => ex.signal : undefined)
    if (typeof entered === 'string') {
      shed(ex, answers[entered])
      return SETTLED
    }
    if (entered instanceof Promise) return wait(ex, next, entered, rule)
    return serve(ex, next, entered, rule)
  }
  // `name` is the limiter's, so events, metrics and stats agree on one label.
  return Object.defineProperties(middleware, {
    kind: { value: 'limit', enumerable: true },
    name: { value: limiter.name, enumerable: true },
    events: { value: limiter.events, enumerable: true },
    stats: { value: limiter.stats, enumerable: true },
    limiter: { value: limiter, enumerable: true },
    // Only for a limiter whose decision can be asked ahead of admit() (shedEarly()).
    ...(early === undefined ? {} : { [EARLY]: { value: early } }),
  }) as ConcurrencyLimitMiddleware
}

/** A 503 or 504 answer, or a timeout thrown: the request did not get through. */
function droppedResponse(ex: Exchange): boolean {
  return ex.status === 503 || ex.status === 504 || isTimeoutError(ex.error)
}
