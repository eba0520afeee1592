import type { Interceptor } from '@connectrpc/connect'
import { Code, ConnectError } from '@connectrpc/connect'
import type { Clock, Emitter, Events, TimeoutEventMap } from '@sturdy/core'
import {
  abortKind,
  ClientClosedError,
  createEmitter,
  ShutdownError,
  TimeoutError,
  VALUES,
} from '@sturdy/core'
import type { TimerWheel, WheelTimer } from '@sturdy/timeout'
import { readIncomingTimeout, timerWheel } from '@sturdy/timeout'
import type { AnyRequest, AnyResponse } from './call.ts'
import { whenDone } from './call.ts'
import { valuesOf } from './values.ts'

/** Options of `serverDeadline()`. */
export interface ServerDeadlineOptions {
  /**
   * The server's own budget per unary call, in ms; the caller's deadline
   * (`grpc-timeout`, `connect-timeout-ms`, `x-request-timeout-ms`) shrinks it, never
   * grows it. `Infinity` for none.
   * @default 15000
   */
  budgetMs?: number
  /**
   * The budget of a streaming call (a `Watch` can last as long as its caller wants);
   * the caller's deadline still applies.
   * @default Infinity
   */
  streamBudgetMs?: number
  /**
   * Budgets by service (`acme.user.v1.UserService`) or method
   * (`acme.user.v1.UserService/GetUser`), replacing `budgetMs`/`streamBudgetMs`; the
   * method wins over its service.
   * @default {}
   */
  methods?: Readonly<Record<string, number>>
  /**
   * Server shutdown (`lifecycle().signal`): when it aborts, every call in flight is
   * aborted and answered UNAVAILABLE, and later calls are refused the same way.
   * @default undefined
   */
  shutdown?: AbortSignal
  /** Name reported in events. @default 'rpc-deadline' */
  name?: string
  /** Time source, for the private wheel. Ignored when `wheel` is given. @default systemClock */
  clock?: Clock
  /** Timer wheel the deadlines are scheduled on (share it with `deadline()`). @default a private wheel */
  wheel?: TimerWheel
}

/** The server deadline interceptor, observable like `deadline()`. */
export type ServerDeadlineInterceptor = Interceptor & {
  readonly kind: 'timeout'
  readonly name: string
  /** `timeout` (scope `deadline`) for every call whose deadline passes. */
  readonly events: Events<TimeoutEventMap>
}

/**
 * A server interceptor that gives every call one deadline and one signal, as
 * `deadline()` does for HTTP:
 *
 * - the deadline is the earlier of the server's budget and the caller's
 *   (`grpc-timeout`, `connect-timeout-ms`); one already spent (`grpc-timeout: 0m`) is
 *   answered DEADLINE_EXCEEDED at once, without running the handler;
 * - the handler's `ctx.signal` aborts at the deadline (reason `TimeoutError`), when the
 *   client cancels (`ClientClosedError`) and on shutdown (`ShutdownError`), so the work
 *   it started stops; `valuesOf(ctx)` holds that `signal` and the `deadline` for
 *   outgoing calls (`callContext(valuesOf(ctx))`, `@sturdy/client`'s `context`);
 * - a unary call is answered DEADLINE_EXCEEDED at the deadline without waiting for the
 *   handler (its late result is dropped), UNAVAILABLE on shutdown.
 *
 * Leave Connect's own `maxTimeoutMs` unset: it refuses long deadlines with
 * INVALID_ARGUMENT, where this interceptor clamps them to `budgetMs`.
 *
 * @param options budgets, shutdown signal, clock/wheel
 * @returns a Connect interceptor with `kind`, `name` and `events`
 * @example
 * import { connectNodeAdapter } from '@connectrpc/connect-node'
 * import { serverDeadline } from '@sturdy/connect'
 *
 * const handler = connectNodeAdapter({
 *   routes,
 *   interceptors: [serverDeadline({ budgetMs: 2000, shutdown: life.signal })],
 * })
 */
export function serverDeadline(options: ServerDeadlineOptions = {}): ServerDeadlineInterceptor {
  const budgetMs = options.budgetMs ?? 15_000
  const streamBudgetMs = options.streamBudgetMs ?? Number.POSITIVE_INFINITY
  for (const [name, value] of [
    ['budgetMs', budgetMs],
    ['streamBudgetMs', streamBudgetMs],
    ...Object.entries(options.methods ?? {}),
  ] as const) {
    if (!(value >= 0)) throw new RangeError(`${name}: a budget must be >= 0, got ${value}`)
  }
  const methods = new Map(Object.entries(options.methods ?? {}))
  const state = new DeadlineState(
    options.wheel ?? timerWheel({ clock: options.clock }),
    options.name ?? 'rpc-deadline',
    options.shutdown,
  )
  const interceptor: Interceptor = (next) =>
    function deadlineInterceptor(req) {
      const service = req.service.typeName
      const own =
        methods.get(`${service}/${req.method.name}`) ??
        methods.get(service) ??
        (req.stream ? streamBudgetMs : budgetMs)
      const sent = readIncomingTimeout(req.header)
      const budget = sent !== undefined && sent < own ? sent : own
      if (state.shutdown?.aborted === true) return Promise.reject(unavailable())
      if (budget <= 0) {
        state.emitTimeout(budget)
        return Promise.reject(
          new ConnectError('deadline exceeded before the call started', Code.DeadlineExceeded),
        )
      }
      return new ServerCall(state, req, budget).run(next)
    }
  return Object.defineProperties(interceptor, {
    kind: { value: 'timeout', enumerable: true },
    name: { value: state.name, enumerable: true },
    events: { value: state.events, enumerable: true },
  }) as ServerDeadlineInterceptor
}

/** What one interceptor shares across its calls. */
class DeadlineState {
  readonly wheel: TimerWheel
  readonly name: string
  readonly shutdown: AbortSignal | undefined
  readonly events: Emitter<TimeoutEventMap> = createEmitter<TimeoutEventMap>()
  /** Calls in flight, with one shutdown listener for all (not one per call). */
  readonly #calls = new Set<ServerCall>()

  constructor(wheel: TimerWheel, name: string, shutdown: AbortSignal | undefined) {
    this.wheel = wheel
    this.name = name
    this.shutdown = shutdown
  }

  emitTimeout(budget: number): void {
    if (this.events.has('timeout')) {
      this.events.emit('timeout', { name: this.name, timeoutMs: budget, scope: 'deadline' })
    }
  }

  enter(call: ServerCall): void {
    if (this.shutdown === undefined) return
    if (this.#calls.size === 0) this.shutdown.addEventListener('abort', this.#onShutdown)
    this.#calls.add(call)
  }

  leave(call: ServerCall): void {
    if (this.shutdown === undefined) return
    if (this.#calls.delete(call) && this.#calls.size === 0) {
      this.shutdown.removeEventListener('abort', this.#onShutdown)
    }
  }

  readonly #onShutdown = (): void => {
    const reason = new ShutdownError()
    for (const call of [...this.#calls]) call.abort(reason)
  }
}

/** One call racing its deadline. */
class ServerCall {
  readonly #state: DeadlineState
  readonly #req: AnyRequest
  readonly #budget: number
  readonly #controller = new AbortController()
  #timer: WheelTimer | undefined
  #at = Number.POSITIVE_INFINITY
  #fail: ((error: unknown) => void) | undefined
  #done = false

  constructor(state: DeadlineState, req: AnyRequest, budget: number) {
    this.#state = state
    this.#req = req
    this.#budget = budget
  }

  run(next: (req: AnyRequest) => Promise<AnyResponse>): Promise<AnyResponse> {
    const state = this.#state
    const clock = state.wheel.clock
    const at = this.#budget === Number.POSITIVE_INFINITY ? undefined : clock.now() + this.#budget
    if (at !== undefined) this.#at = at
    const signal = this.#controller.signal
    const values = valuesOf(this.#req)
    values[VALUES.signal] = signal
    if (at !== undefined) values[VALUES.deadline] = at
    state.enter(this)
    this.#req.signal.addEventListener('abort', this.#onCallAbort)
    if (this.#req.signal.aborted) this.#onCallAbort()
    if (at !== undefined) this.#timer = state.wheel.schedule(at, this.#onDeadline)

    const work = next({ ...this.#req, signal } as AnyRequest)
    if (this.#req.stream) {
      return work.then(
        (res) => whenDone(res, this.#finish),
        (error) => {
          this.#finish()
          throw this.#translate(error)
        },
      )
    }
    // A unary call is answered at the deadline (or shutdown) without waiting for the
    // handler; both outcomes are handled now, so a late rejection is never unhandled.
    return new Promise<AnyResponse>((resolve, reject) => {
      this.#fail = reject
      work.then(
        (res) => {
          this.#finish()
          resolve(res)
        },
        (error) => {
          this.#finish()
          reject(this.#translate(error))
        },
      )
    })
  }

  abort(reason: TimeoutError | ShutdownError | ClientClosedError): void {
    if (this.#done) return
    this.#finish()
    this.#controller.abort(reason)
    this.#fail?.(this.#translate(reason))
  }

  readonly #onDeadline = (): void => {
    this.#timer = undefined
    this.#state.emitTimeout(this.#budget)
    this.abort(
      new TimeoutError(`Deadline of ${Math.round(this.#budget)} ms exceeded`, this.#budget),
    )
  }

  /**
   * Connect aborts the call's own signal when the client goes away or its deadline
   * passes. A client that hangs up once the deadline is (about) due is the deadline
   * passing: its own timer, a margin later than ours, may beat our coarser one.
   */
  readonly #onCallAbort = (): void => {
    const reason = this.#req.signal.reason
    const code = reason instanceof ConnectError ? reason.code : undefined
    const wheel = this.#state.wheel
    const due = wheel.clock.now() >= this.#at - wheel.resolutionMs
    this.abort(
      code === Code.DeadlineExceeded || due
        ? new TimeoutError(`Deadline of ${Math.round(this.#budget)} ms exceeded`, this.#budget)
        : new ClientClosedError(),
    )
  }

  /** A failure once the signal aborted is the abort's, whatever the handler threw. */
  #translate(error: unknown): unknown {
    const signal = this.#controller.signal
    if (!signal.aborted) return error
    switch (abortKind(signal.reason)) {
      case 'deadline':
        return new ConnectError(
          'deadline exceeded',
          Code.DeadlineExceeded,
          undefined,
          undefined,
          signal.reason,
        )
      case 'shutdown':
        return unavailable(signal.reason)
      default:
        return new ConnectError(
          'the call was cancelled',
          Code.Canceled,
          undefined,
          undefined,
          signal.reason,
        )
    }
  }

  readonly #finish = (): void => {
    if (this.#done) return
    this.#done = true
    this.#timer?.cancel()
    this.#timer = undefined
    this.#req.signal.removeEventListener('abort', this.#onCallAbort)
    this.#state.leave(this)
  }
}

function unavailable(cause?: unknown): ConnectError {
  return new ConnectError(
    'the server is shutting down',
    Code.Unavailable,
    undefined,
    undefined,
    cause,
  )
}
