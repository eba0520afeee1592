import type {
  BreakerEventMap,
  Events,
  Exchange,
  Middleware,
  Problem,
  RouteMatcher,
} from '@sturdy/core'
import {
  abortKind,
  isSturdyError,
  normalizeMethod,
  respondProblem,
  routeMatcher,
  statusTitle,
  UNMATCHED_ROUTE,
} from '@sturdy/core'
import { rejectionMessage } from './errors.ts'
import type { KeyedBreaker, KeyedBreakerOptions } from './keyed-breaker.ts'
import { keyedBreaker } from './keyed-breaker.ts'
import type { Outcome } from './outcome.ts'

/** Options of `breakerMiddleware`. */
export interface BreakerMiddlewareOptions {
  /**
   * The breakers, one per key: an existing `keyedBreaker` (to share or observe it) or
   * options to build one. @default keyedBreaker({ name: 'http-server' }) (gobreaker defaults per route)
   */
  breakers?: KeyedBreaker | KeyedBreakerOptions
  /**
   * Picks the breaker key before `next()`; `undefined` leaves the request unguarded.
   * When omitted, the key is `METHOD /route/:template`, found by matching the path
   * against route templates learned from earlier requests (see the README).
   * @default undefined (learned route templates)
   */
  key?: (ex: Exchange) => string | undefined
  /**
   * Which learned routes are guarded (learned-template mode only); unmatched requests
   * never are. @default every matched route
   */
  routes?: (route: string, method: string) => boolean
  /** Response statuses that count as failures. @default status >= 500 */
  isFailureStatus?: (status: number) => boolean
  /**
   * Classifies a finished request, overriding the default (client went away or server
   * shutting down: excluded; `isFailureStatus` or a thrown 5xx error: failure; else success).
   */
  outcome?: (ex: Exchange) => Outcome
  /** Most route templates learned. @default 1000 */
  maxRoutes?: number
}

/**
 * The middleware, observable like any breaker: events are named by route key. Its own
 * `name` is the function name, `breakerMiddleware`; the set's name is `breakers.name`.
 */
export type BreakerMiddleware = Middleware & {
  readonly kind: 'breaker'
  readonly name: string
  readonly events: Events<BreakerEventMap>
  /** The breakers behind the middleware, one per route key. */
  readonly breakers: KeyedBreaker
}

/**
 * Server middleware that fails fast: when the breaker of the request's route is open
 * (or isolated, or half-open with every trial taken), it answers at once with 503
 * `application/problem+json` and `Retry-After`, without running the handler. Finished
 * requests feed the route's breaker (5xx and thrown errors fail by default).
 *
 * The route template is only known after `next()`, so by default the middleware learns
 * templates from finished requests (a bounded set, never raw paths) and matches later
 * paths against them; the first request of a route runs unguarded and is recorded
 * afterwards. Pass `key` to choose the breaker from the request up front instead.
 *
 * @param options see `BreakerMiddlewareOptions` (every option is optional)
 * @returns a named middleware that also exposes `kind`, `name`, `events` and `breakers`
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { breakerMiddleware } from '@sturdy/breaker'
 *
 * const app = new Hono().use(
 *   sturdy(breakerMiddleware({ breakers: { breaker: { failureRatio: 0.5, openMs: 5000 } } })),
 * )
 * app.get('/reports/:id', (c) => c.json({ id: c.req.param('id') }))
 */
export function breakerMiddleware(options: BreakerMiddlewareOptions = {}): BreakerMiddleware {
  const breakers = isKeyed(options.breakers)
    ? options.breakers
    : keyedBreaker({ name: 'http-server', ...options.breakers })
  const keyOf = options.key
  const guarded = options.routes ?? (() => true)
  const isFailureStatus = options.isFailureStatus ?? ((status: number) => status >= 500)
  const outcomeOf = options.outcome ?? ((ex: Exchange) => defaultOutcome(ex, isFailureStatus))
  // Learned templates, matched in core's route-pattern syntax (the most specific wins);
  // the cache keeps the hot path to one lookup per method and path.
  const templates = routeMatcher<string>([], {
    maxRoutes: Math.max(1, options.maxRoutes ?? 1000),
    cacheSize: 10_000,
  })

  const middleware = async function breakerMiddleware(ex: Exchange, next: () => Promise<void>) {
    const method = normalizeMethod(ex.method)
    let key: string | undefined
    if (keyOf !== undefined) {
      key = keyOf(ex)
    } else {
      const template = templates.match(method, ex.path)
      if (template !== undefined) key = `${method} ${template}`
    }
    const breaker = key === undefined ? undefined : breakers.get(key)
    const done = breaker?.tryAllow()
    if (breaker !== undefined && done === undefined) {
      const retryAfterMs = breaker.retryAfterMs()
      const problem: Problem = {
        title: statusTitle(503),
        status: 503,
        code: 'BROKEN_CIRCUIT',
        detail: rejectionMessage(breaker.name, breaker.state),
        retryAfterMs,
      }
      // The problem's retryAfterMs becomes the Retry-After header (core problemHeaders).
      respondProblem(ex, problem)
      return
    }
    const start = keyOf === undefined ? breakers.clock.now() : 0
    try {
      await next()
    } catch (error) {
      // Adapters that rethrow: the request failed, whatever the status says yet.
      done?.('failure')
      throw error
    }
    if (keyOf !== undefined) {
      done?.(outcomeOf(ex))
      return
    }
    const route = ex.route()
    const actual =
      route !== UNMATCHED_ROUTE && guarded(route, method) ? `${method} ${route}` : undefined
    if (actual !== undefined && actual === key) {
      done?.(outcomeOf(ex))
      return
    }
    // No prediction (first request of a route) or a wrong one (a more specific template
    // appeared): free the predicted slot, and record the request on its own route's
    // breaker if that breaker admits it now.
    done?.('excluded')
    if (actual === undefined) return
    learn(templates, method, route)
    const own = breakers.get(actual)
    // Ask first, so a breaker that would refuse does not report a rejection that never
    // happened (this request has already been served).
    if (own.retryAfterMs() === 0) own.tryAllow()?.(outcomeOf(ex), breakers.clock.now() - start)
  }
  // `name` stays the function's own ('breakerMiddleware') so stack traces keep it; the
  // set's name is `breakers.name`, and every event names its key.
  return Object.assign(middleware, { kind: 'breaker' as const, events: breakers.events, breakers })
}

/** Remembers a route template; one core's syntax cannot read is simply never predicted. */
function learn(templates: RouteMatcher<string>, method: string, route: string): void {
  try {
    templates.add(`${method} ${route}`, route)
  } catch {
    // e.g. an Express RegExp route's String() form: nothing a path can be matched against.
  }
}

function isKeyed(value: KeyedBreaker | KeyedBreakerOptions | undefined): value is KeyedBreaker {
  return value !== undefined && typeof (value as KeyedBreaker).get === 'function'
}

function defaultOutcome(ex: Exchange, isFailureStatus: (status: number) => boolean): Outcome {
  const error = ex.error
  const failed =
    isFailureStatus(ex.status) ||
    (error !== undefined && !(isSturdyError(error) && error.status < 500))
  if (!failed) return 'success'
  // Only a failure pays for the request signal (it is created lazily): a client that went
  // away, or a server shutting down, says nothing about the route's health.
  const kind = ex.signal.aborted ? abortKind(ex.signal.reason) : undefined
  return kind === 'client-disconnect' || kind === 'shutdown' ? 'excluded' : 'failure'
}
