import type {
  Clock,
  Emitter,
  Events,
  Exchange,
  Middleware,
  Next,
  TimeoutEventMap,
  TimerHandle,
} from '@sturdy/core'
import {
  createEmitter,
  RequestTimeoutError,
  respondProblem,
  ShutdownError,
  TimeoutError,
  VALUES,
} from '@sturdy/core'
import type { IncomingTimeoutOptions } from './headers.ts'
import { readIncomingTimeout } from './headers.ts'
import type { RouteBudgets } from './routes.ts'
import { compileRoutes } from './routes.ts'
import type { TimerWheel, WheelTarget, WheelTimer } from './timer-wheel.ts'
import { timerWheel } from './timer-wheel.ts'

/**
 * The per-request value key the deadline is shared under: core's `VALUES.deadline`.
 *
 * @deprecated use `VALUES.deadline` from `@sturdy/core`.
 * @example
 * const deadlineAt = ex.get<number>(VALUES.deadline) // c.var.deadline in Hono
 */
export const DEADLINE_KEY: typeof VALUES.deadline = VALUES.deadline

/** The per-request values `deadline()` shares with handlers (`c.var.*` in Hono). */
export interface DeadlineVariables {
  /** Aborts on deadline (`TimeoutError`), client disconnect (`ClientClosedError`) or shutdown (`ShutdownError`). */
  signal: AbortSignal
  /** The request's absolute deadline on the clock's scale (`performance.now()` by default), or undefined for none. */
  deadline: number | undefined
}

/**
 * Why the deadline middleware answers: the deadline passed (`TimeoutError`, 504), it
 * passed while the request body was still arriving (`RequestTimeoutError`, 408), or the
 * server is shutting down (`ShutdownError`, 503).
 */
export type DeadlineReason = TimeoutError | RequestTimeoutError | ShutdownError

/** Options of `deadline()`. */
export interface DeadlineOptions {
  /**
   * The app's budget per request, in ms. `Infinity` for none (the signal still aborts
   * on disconnect, shutdown and incoming deadlines). Envoy's default route timeout.
   * @default 15000
   */
  budgetMs?: number
  /**
   * Per-route budgets, replacing `budgetMs` for matching requests (longer or shorter):
   * `{ 'POST /upload': 30_000, '/users/:id': 500 }` in core's route-pattern syntax (the
   * most specific pattern wins), or a function `(ex) => number | undefined` (undefined:
   * use `budgetMs`). Matched on method and raw path because the route template is only
   * known after `next()`.
   * @default undefined
   */
  routes?: RouteBudgets
  /**
   * Honour deadlines the caller sent (`grpc-timeout`, `connect-timeout-ms`, and the
   * plain `x-request-timeout-ms`); the smallest of those and the budget wins. `false`
   * ignores them; an object picks headers (see `IncomingTimeoutOptions`).
   * @default true
   */
  incoming?: boolean | IncomingTimeoutOptions
  /**
   * Server shutdown: when it aborts, every request in flight gets 503 and its signal
   * aborts with a `ShutdownError`; later requests get 503 without running.
   * @default undefined
   */
  shutdown?: AbortSignal
  /**
   * Writes the response at the deadline (`TimeoutError`; `RequestTimeoutError` when the
   * body was still arriving) or on shutdown (`ShutdownError`).
   * @default respondProblem(ex, reason): 504 / 408 / 503 application/problem+json
   */
  respond?: (ex: Exchange, reason: DeadlineReason) => void
  /**
   * Name reported in events.
   * @default 'deadline'
   */
  name?: string
  /**
   * Time source, for the private wheel. Ignored when `wheel` is given.
   * @default systemClock
   */
  clock?: Clock
  /**
   * Timer wheel deadlines are scheduled on (share it with `timeout()` policies).
   * @default a private `timerWheel({ clock })`
   */
  wheel?: TimerWheel
}

/** The deadline middleware: Sturdy server middleware that is also observable. */
export type DeadlineMiddleware = Middleware<DeadlineVariables> & {
  readonly kind: 'timeout'
  readonly name: string
  /** `timeout` fires (scope `deadline`) for every request whose deadline passes. */
  readonly events: Events<TimeoutEventMap>
}

/**
 * Per-request deadlines that cancel the work. Each request gets one signal that aborts
 * on client disconnect, deadline or shutdown, with a reason that says which
 * (`abortKind(signal.reason)`), shared as the `signal` value (`c.var.signal` in Hono)
 * along with the absolute `deadline`.
 *
 * The budget is the route's (or the app's), shrunk by any deadline the caller sent.
 * At the deadline the client gets a 504 problem+json at once — the middleware stops
 * waiting for the handler — and the signal aborts, so downstream I/O stops instead of
 * running on after the answer (what `hono/timeout` does). Nothing is written twice when
 * the handler finishes later. A client disconnect aborts the signal and writes nothing.
 * Deadlines ride a shared timer wheel: no `setTimeout` per request.
 *
 * @param options see `DeadlineOptions`
 * @returns a named Sturdy middleware sharing `{ signal, deadline }`, with `kind`, `name`, `events`
 * @example
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { deadline } from '@sturdy/timeout'
 *
 * const app = new Hono().use(
 *   sturdy(deadline({ budgetMs: 2000, routes: { 'POST /upload': 30_000 } })),
 * )
 * app.get('/orders/:id', async (c) => {
 *   const res = await fetch(`http://127.0.0.1:9000/orders/${c.req.param('id')}`, { signal: c.var.signal })
 *   return c.json(await res.json())
 * })
 */
export function deadline(options: DeadlineOptions = {}): DeadlineMiddleware {
  const budgetMs = options.budgetMs ?? 15_000
  if (!(budgetMs >= 0)) throw new RangeError(`budgetMs must be >= 0, got ${budgetMs}`)
  const incoming = options.incoming ?? true
  const state = new DeadlineState(
    options.wheel ?? timerWheel({ clock: options.clock }),
    options.respond ?? respondProblem,
    options.name ?? 'deadline',
    options.shutdown,
  )
  const routeBudget = compileRoutes(options.routes)
  const incomingOptions: IncomingTimeoutOptions | undefined =
    incoming === false ? undefined : incoming === true ? {} : incoming

  const deadlineMiddleware = function deadlineMiddleware(ex: Exchange, next: Next): Promise<void> {
    const now = state.wheel.clock.now()
    let budget = budgetMs
    if (routeBudget !== undefined) {
      const routed = routeBudget(ex)
      // A route function's nonsense (NaN, negative) must not break the request.
      if (routed !== undefined && routed >= 0) budget = routed
    }
    if (incomingOptions !== undefined) {
      const sent = readIncomingTimeout(ex, incomingOptions)
      if (sent !== undefined && sent < budget) budget = sent
    }
    let at = budget === Number.POSITIVE_INFINITY ? budget : now + budget
    // Nested deadlines (an app-wide one and a route's own) only ever shrink, as in Go.
    const outer = ex.deadline
    if (outer !== undefined && outer < at) {
      at = outer
      budget = Math.max(0, outer - now)
    }
    if (at !== Number.POSITIVE_INFINITY) ex.deadline = at
    // Lazily where the adapter can: most handlers never read the signal, and on Node 20
    // creating one costs more than the rest of this middleware (bench/README.md, Round 2).
    if (ex.setLazy !== undefined) ex.setLazy(VALUES.signal, signalOf)
    else ex.set(VALUES.signal, ex.signal)
    ex.set(VALUES.deadline, ex.deadline)

    if (state.shutdown?.aborted) {
      state.trip(ex, new ShutdownError())
      return Promise.resolve()
    }
    if (at <= now) {
      // Already out of time (`grpc-timeout: 0m`): answer without starting the work.
      state.trip(ex, state.timeoutError(budget))
      return Promise.resolve()
    }
    return new Flight(state, ex, budget).run(next, at)
  }
  return Object.defineProperties(deadlineMiddleware, {
    kind: { value: 'timeout', enumerable: true },
    name: { value: state.name, enumerable: true },
    events: { value: state.events, enumerable: true },
  }) as DeadlineMiddleware
}

/** The request signal, read when a handler first asks for the shared `signal` value. */
function signalOf(ex: Exchange): AbortSignal {
  return ex.signal
}

/** What one `deadline()` instance shares across its requests. */
class DeadlineState {
  readonly wheel: TimerWheel
  readonly respond: (ex: Exchange, reason: DeadlineReason) => void
  readonly name: string
  readonly events: Emitter<TimeoutEventMap> = createEmitter<TimeoutEventMap>()
  readonly shutdown: AbortSignal | undefined
  /**
   * Requests in flight, tracked only with a shutdown signal. One listener on the
   * shutdown signal serves all of them (attached while any are in flight), instead of
   * one listener per request: 10,000 concurrent requests would otherwise trip Node's
   * MaxListenersExceededWarning on the long-lived signal.
   */
  readonly #flights = new Set<Flight>()
  #aborts: Array<{ ex: Exchange; reason: unknown }> = []
  #abortTimer: TimerHandle | undefined

  constructor(
    wheel: TimerWheel,
    respond: (ex: Exchange, reason: DeadlineReason) => void,
    name: string,
    shutdown: AbortSignal | undefined,
  ) {
    this.wheel = wheel
    this.respond = respond
    this.name = name
    this.shutdown = shutdown
  }

  /**
   * The reason a passed deadline answers with. When the request body is still arriving
   * (`ex.receiving`), the client was the slow one: 408, a client error, not a 504 that
   * blames an upstream.
   */
  timeoutError(budget: number, ex?: Exchange): TimeoutError | RequestTimeoutError {
    if (this.events.has('timeout')) {
      this.events.emit('timeout', { name: this.name, timeoutMs: budget, scope: 'deadline' })
    }
    // Budgets derived from another deadline are fractional on performance.now()'s scale.
    const shown = Number.isInteger(budget) ? budget : Number(budget.toFixed(1))
    if (ex?.receiving === true) {
      return new RequestTimeoutError(
        `The request body did not arrive within the deadline of ${shown} ms`,
        budget,
      )
    }
    return new TimeoutError(`Deadline of ${shown} ms exceeded`, budget)
  }

  enter(flight: Flight): void {
    const shutdown = this.shutdown
    if (shutdown === undefined) return
    if (this.#flights.size === 0) shutdown.addEventListener('abort', this.#onShutdown)
    this.#flights.add(flight)
  }

  leave(flight: Flight): void {
    const shutdown = this.shutdown
    if (shutdown === undefined) return
    if (this.#flights.delete(flight) && this.#flights.size === 0) {
      shutdown.removeEventListener('abort', this.#onShutdown)
    }
  }

  readonly #onShutdown = (): void => {
    const error = new ShutdownError()
    for (const flight of [...this.#flights]) flight.trip(error)
  }

  /** Answers now (unless something already did) and aborts the request signal soon. */
  trip(ex: Exchange, reason: DeadlineReason): void {
    this.#abortSoon(ex, reason)
    if (ex.responded) return
    try {
      this.respond(ex, reason)
    } catch {
      // A throwing custom responder must not leave the client without an answer, nor
      // throw out of the shared wheel's timer (it would crash the process).
      if (!ex.responded) respondProblem(ex, reason)
    }
  }

  /**
   * Aborts after the current macrotask, not inline. The middleware has just answered
   * and stopped waiting, but the framework reads the answer a few promise hops later.
   * Aborting inline makes the handler's I/O reject in the same microtask queue, and in
   * Hono the handler's error then lands on `c.res` (compose sets it on error even when
   * the context is finalized), racing the 504. One batch timer per wave of deadlines.
   */
  #abortSoon(ex: Exchange, reason: unknown): void {
    this.#aborts.push({ ex, reason })
    if (this.#abortTimer === undefined) {
      this.#abortTimer = this.wheel.clock.setTimeout(this.#flushAborts, 0)
    }
  }

  readonly #flushAborts = (): void => {
    this.#abortTimer = undefined
    const batch = this.#aborts
    this.#aborts = []
    for (const { ex, reason } of batch) ex.abort(reason)
  }
}

/** One request racing its deadline; the wheel calls `onDeadline` itself (no closure). */
class Flight implements WheelTarget {
  readonly #state: DeadlineState
  readonly #ex: Exchange
  readonly #budget: number
  #timer: WheelTimer | undefined
  #done = false
  #resolve!: () => void
  #reject!: (error: unknown) => void

  constructor(state: DeadlineState, ex: Exchange, budget: number) {
    this.#state = state
    this.#ex = ex
    this.#budget = budget
  }

  run(next: Next, at: number): Promise<void> {
    const answered = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    if (at !== Number.POSITIVE_INFINITY) this.#timer = this.#state.wheel.schedule(at, this)
    this.#state.enter(this)
    let work: Promise<void>
    try {
      work = next()
    } catch (error) {
      work = Promise.reject(error)
    }
    // Handlers for both outcomes are attached now, so a downstream rejection after the
    // deadline answered is handled (dropped), never an unhandled rejection.
    work.then(this.#onDone, this.#onFail)
    return answered
  }

  trip(reason: DeadlineReason): void {
    if (this.#done) return
    this.#finish()
    this.#state.trip(this.#ex, reason)
    this.#resolve()
  }

  /** The budget ran out (called by the wheel). */
  onDeadline(): void {
    this.#timer = undefined
    this.trip(this.#state.timeoutError(this.#budget, this.#ex))
  }

  readonly #onDone = (): void => {
    if (this.#done) return
    this.#finish()
    this.#resolve()
  }

  readonly #onFail = (error: unknown): void => {
    if (this.#done) return
    this.#finish()
    this.#reject(error)
  }

  #finish(): void {
    this.#done = true
    this.#timer?.cancel()
    this.#timer = undefined
    this.#state.leave(this)
  }
}
