import type {
  Clock,
  Disposer,
  Exchange,
  Middleware,
  Next,
  Problem,
  TimerHandle,
} from '@sturdy/core'
import { ShutdownError, statusTitle, systemClock } from '@sturdy/core'
import type { CheckOptions, ReadinessCheck } from './checks.ts'
import { Check } from './checks.ts'
import { InFlight } from './in-flight.ts'
import type { LifecycleLogger } from './logger.ts'
import { describeError, jsonLineLogger } from './logger.ts'
import type { LifecycleState, ProbeKind, ProbeResponse } from './probes.ts'
import { livenessResponse, readinessResponse } from './probes.ts'
import type { DrainableServer } from './server.ts'
import { ServerDrain } from './server.ts'

/** Options of `lifecycle()`. Every duration is in milliseconds. */
export interface LifecycleOptions {
  /**
   * Step 2: how long the server keeps accepting and serving after readiness fails, so
   * load balancers and Kubernetes endpoints stop routing to it (endpoint removal runs
   * in parallel with SIGTERM). Use 0 off Kubernetes, or when a `preStop` sleep already
   * waits.
   * @default 5000
   */
  drainDelayMs?: number
  /**
   * Step 4: once the listener is closed, how long in-flight requests may take to finish
   * before they are aborted (the drain bound).
   * @default 10000
   */
  drainTimeoutMs?: number
  /**
   * Step 5: after aborting the stragglers, how long their 503 answers and unwinding
   * handlers get before every remaining connection is destroyed.
   * @default 1000
   */
  abortGraceMs?: number
  /**
   * Step 6: each registered resource's close timeout, unless `onClose` sets its own.
   * @default 3000
   */
  closeTimeoutMs?: number
  /**
   * The time the platform allows between SIGTERM and SIGKILL (Kubernetes
   * `terminationGracePeriodSeconds` × 1000, minus any `preStop` sleep). When `boundMs`
   * exceeds it, a warning is logged at once: the drain could be killed before it ends.
   * @default 30000
   */
  gracePeriodMs?: number
  /**
   * The `Retry-After` sent with the 503 a straggler gets at the bound (whole seconds,
   * rounded up). The client should retry at once, on another instance.
   * @default 1000
   */
  retryAfterMs?: number
  /**
   * Path of the liveness probe answered by `middleware()`.
   * @default '/healthz'
   */
  livenessPath?: string
  /**
   * Path of the readiness probe answered by `middleware()`.
   * @default '/readyz'
   */
  readinessPath?: string
  /**
   * Default timeout of each readiness check (see `CheckOptions.timeoutMs`).
   * @default 500
   */
  checkTimeoutMs?: number
  /**
   * Default caching of each readiness check's result (see `CheckOptions.cacheMs`).
   * @default 1000
   */
  checkCacheMs?: number
  /**
   * Where the drain's log lines go: one when it starts, one summary when it ends, and
   * one whenever a readiness check changes state. A pino logger fits; its `flush` is
   * called before `exit` (at most 500 ms), so an asynchronous destination keeps the
   * summary line.
   * @default JSON lines on stdout (`jsonLineLogger()`)
   */
  logger?: LifecycleLogger
  /**
   * Ends the process once the drain is over: 0 when every resource closed, 1 otherwise
   * (or when the bound or a second signal forced it). Tests pass a recorder.
   * @default process.exit
   */
  exit?: (code: number) => void
  /**
   * Time source for every delay, bound and check timeout.
   * @default systemClock
   */
  clock?: Clock
}

/** Options of one resource (`onClose(name, fn, options)`). */
export interface CloseOptions {
  /**
   * How long `fn` may take; at the timeout its signal aborts and it counts as failed.
   * @default the lifecycle's `closeTimeoutMs` (3000)
   */
  timeoutMs?: number
}

/** Closes a resource: a pool, a database client, a telemetry exporter's flush. */
export type CloseFn = (signal: AbortSignal) => unknown

/** Options of `handleSignals()`. */
export interface SignalOptions {
  /**
   * The signals that start the drain; the second one received forces an exit.
   * @default ['SIGTERM', 'SIGINT']
   */
  signals?: readonly string[]
  /**
   * Where signals come from.
   * @default process
   */
  source?: SignalSource
}

/** What `handleSignals()` subscribes to: `process`, or a stand-in in tests. */
export interface SignalSource {
  on(signal: string, listener: (signal: string) => void): unknown
  off(signal: string, listener: (signal: string) => void): unknown
}

/** How one resource closed. */
export interface ResourceOutcome {
  readonly name: string
  readonly outcome: 'closed' | 'failed' | 'timeout'
  readonly durationMs: number
  /** The error's name and message, when it failed. */
  readonly error?: string
}

/** What a drain did: the fields of its summary log line. */
export interface DrainReport {
  /** What started it: the signal name, or the reason given to `drain()`. */
  readonly reason: string
  readonly exitCode: 0 | 1
  /** Set when the drain did not end on its own: the bound passed, or a second signal came. */
  readonly forced?: 'bound' | 'signal'
  readonly durationMs: number
  readonly boundMs: number
  /** Requests running when the drain began. */
  readonly inFlight: number
  /** Requests that completed normally after the drain began (those it kept serving included). */
  readonly drained: number
  /** Requests answered 503 at or after the bound. */
  readonly aborted: number
  /** Connections still open at the end, destroyed. */
  readonly connectionsDestroyed: number
  /** Resources, in the order they were closed (reverse registration). */
  readonly resources: readonly ResourceOutcome[]
}

/**
 * A service's lifecycle: probes, readiness checks, the handed-over servers, the
 * resources to close, and the drain that ties them together.
 */
export interface Lifecycle {
  /** `serving`, then `draining` from the first moment of a drain, then `stopped`. */
  readonly state: LifecycleState
  /**
   * The longest a drain can take, from its start to `exit`:
   * `drainDelayMs + drainTimeoutMs + abortGraceMs + Σ resource timeouts`. Set
   * `terminationGracePeriodSeconds` to at least `ceil(boundMs / 1000) + 1` (plus any
   * `preStop` sleep).
   */
  readonly boundMs: number
  /**
   * Aborts with a `ShutdownError` at the drain bound, when in-flight work must stop:
   * hand it to background work, or to `deadline({ shutdown })`.
   */
  readonly signal: AbortSignal
  /** Calls `listener` with every new state; returns a disposer. For gRPC health, metrics. */
  subscribe(listener: (state: LifecycleState) => void): Disposer
  /** Registers a readiness check (a database ping, a downstream's breaker state). */
  check(name: string, fn: ReadinessCheck, options?: CheckOptions): Lifecycle
  /** Registers a resource to close after the drain; resources close in reverse order. */
  onClose(name: string, fn: CloseFn, options?: CloseOptions): Lifecycle
  /** Hands over a listening (or about to listen) server for connection draining. */
  serve(server: DrainableServer): Lifecycle
  /**
   * The Sturdy middleware: answers the probes, tracks in-flight requests and aborts
   * the stragglers at the bound. Mount it first, before metrics, logging and any load
   * limiter, so probes are never counted, logged or shed.
   */
  middleware(): Middleware
  /** Answers a probe, for serving it elsewhere (a separate port, a gRPC health service). */
  probe(kind: ProbeKind): Promise<ProbeResponse>
  /**
   * Runs the drain (see the package README for the steps), then calls `exit`. Calling
   * it again returns the same drain.
   */
  drain(reason?: string): Promise<DrainReport>
  /**
   * Starts the drain on SIGTERM or SIGINT; a second signal forces the exit. Nothing is
   * registered until you call this. Returns a disposer that removes the listeners.
   */
  handleSignals(options?: SignalOptions): Disposer
}

/**
 * Liveness and readiness probes, and a graceful drain that loses no request across a
 * deploy. On SIGTERM (after `handleSignals()`) or `drain()`:
 *
 * 1. readiness fails at once; liveness keeps passing;
 * 2. the servers keep accepting and serving for `drainDelayMs`;
 * 3. every HTTP/1 response carries `Connection: close` (HTTP/2: GOAWAY), so clients
 *    move to other instances;
 * 4. the listeners close, idle connections are closed, and in-flight requests get
 *    `drainTimeoutMs` to finish;
 * 5. requests still running then are answered 503 (problem+json, `Retry-After`) and
 *    their signal aborts with a `ShutdownError`; after `abortGraceMs` the remaining
 *    connections are destroyed;
 * 6. resources close in reverse order of registration, each within its timeout;
 * 7. one summary line is logged and `exit(0)` is called — `exit(1)` if a resource
 *    failed to close.
 *
 * The whole never exceeds `boundMs`; a second signal exits at once.
 *
 * @param options delays, bounds, probe paths, check defaults, logger, exit, clock
 * @returns the `Lifecycle`
 * @example
 * import { serve } from '@hono/node-server'
 * import { Hono } from 'hono'
 * import { sturdy } from '@sturdy/hono'
 * import { lifecycle } from '@sturdy/lifecycle'
 *
 * const life = lifecycle({ drainDelayMs: 5000 })
 * const app = new Hono().use(sturdy(life.middleware()))
 * app.get('/hello', (c) => c.text('hello'))
 *
 * life.check('database', (signal) => db.ping({ signal }))
 * life.onClose('database', () => db.end())
 * life.serve(serve({ fetch: app.fetch, port: 3000 }))
 * life.handleSignals()
 */
export function lifecycle(options: LifecycleOptions = {}): Lifecycle {
  return new ServiceLifecycle(resolveOptions(options))
}

interface Resolved {
  readonly drainDelayMs: number
  readonly drainTimeoutMs: number
  readonly abortGraceMs: number
  readonly closeTimeoutMs: number
  readonly gracePeriodMs: number
  readonly livenessPath: string
  readonly readinessPath: string
  readonly checkTimeoutMs: number
  readonly checkCacheMs: number
  readonly logger: LifecycleLogger
  readonly exit: (code: number) => void
  readonly clock: Clock
  readonly shutdownProblem: Problem
}

function resolveOptions(options: LifecycleOptions): Resolved {
  const ms = (name: keyof LifecycleOptions, fallback: number): number => {
    const value = (options[name] as number | undefined) ?? fallback
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`${name} must be a finite number >= 0, got ${value}`)
    }
    return value
  }
  const livenessPath = options.livenessPath ?? '/healthz'
  const readinessPath = options.readinessPath ?? '/readyz'
  if (livenessPath === readinessPath) {
    throw new RangeError(`livenessPath and readinessPath must differ, both are ${livenessPath}`)
  }
  return {
    drainDelayMs: ms('drainDelayMs', 5000),
    drainTimeoutMs: ms('drainTimeoutMs', 10_000),
    abortGraceMs: ms('abortGraceMs', 1000),
    closeTimeoutMs: ms('closeTimeoutMs', 3000),
    gracePeriodMs: ms('gracePeriodMs', 30_000),
    livenessPath,
    readinessPath,
    checkTimeoutMs: ms('checkTimeoutMs', 500),
    checkCacheMs: ms('checkCacheMs', 1000),
    logger: options.logger ?? jsonLineLogger(),
    exit: options.exit ?? ((code) => process.exit(code)),
    clock: options.clock ?? systemClock,
    shutdownProblem: {
      title: statusTitle(503),
      status: 503,
      code: 'SHUTDOWN',
      detail: 'The server is shutting down; retry on another instance',
      retryAfterMs: ms('retryAfterMs', 1000),
    },
  }
}

/** How long after its bound a drain that is still running is cut short with exit(1). */
const BACKSTOP_MS = 1000
/** How long the logger's flush may take before exit is called anyway. */
const FLUSH_TIMEOUT_MS = 500

interface Resource {
  readonly name: string
  readonly fn: CloseFn
  readonly timeoutMs: number
}

class ServiceLifecycle implements Lifecycle {
  readonly #o: Resolved
  readonly #checks: Check[] = []
  readonly #resources: Resource[] = []
  readonly #servers: ServerDrain[] = []
  readonly #served = new WeakSet<DrainableServer>()
  readonly #listeners = new Set<(state: LifecycleState) => void>()
  readonly #inFlight: InFlight
  readonly #controller = new AbortController()
  readonly #middleware: Middleware
  #state: LifecycleState = 'serving'
  #drain: Promise<DrainReport> | undefined
  #exited = false
  #warnedBound = false
  #signals = 0
  #keepAlive: ReturnType<typeof setInterval> | undefined
  // Filled in as the drain goes, so a forced exit can still report what happened.
  #progress: {
    reason: string
    started: number
    connectionsDestroyed: number
    resources: ResourceOutcome[]
  } = { reason: '', started: 0, connectionsDestroyed: 0, resources: [] }

  constructor(options: Resolved) {
    this.#o = options
    this.#inFlight = new InFlight(options.clock)
    this.#middleware = this.#buildMiddleware()
    this.#checkBound()
  }

  get state(): LifecycleState {
    return this.#state
  }

  get boundMs(): number {
    const o = this.#o
    let total = o.drainDelayMs + o.drainTimeoutMs + o.abortGraceMs
    for (const r of this.#resources) total += r.timeoutMs
    return total
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  subscribe(listener: (state: LifecycleState) => void): Disposer {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  check(name: string, fn: ReadinessCheck, options: CheckOptions = {}): Lifecycle {
    const timeoutMs = options.timeoutMs ?? this.#o.checkTimeoutMs
    const cacheMs = options.cacheMs ?? this.#o.checkCacheMs
    if (!(timeoutMs > 0) || !(cacheMs >= 0)) {
      throw new RangeError(`check ${name}: timeoutMs must be > 0 and cacheMs >= 0`)
    }
    if (this.#checks.some((c) => c.name === name)) {
      throw new Error(`check ${name} is already registered`)
    }
    this.#checks.push(new Check(name, fn, timeoutMs, cacheMs, this.#o.clock, this.#onCheck))
    return this
  }

  onClose(name: string, fn: CloseFn, options: CloseOptions = {}): Lifecycle {
    const timeoutMs = options.timeoutMs ?? this.#o.closeTimeoutMs
    if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
      throw new RangeError(`resource ${name}: timeoutMs must be a finite number >= 0`)
    }
    this.#resources.push({ name, fn, timeoutMs })
    this.#checkBound()
    return this
  }

  serve(server: DrainableServer): Lifecycle {
    if (this.#served.has(server)) return this
    this.#served.add(server)
    const drain = new ServerDrain(server, this.#o.clock)
    this.#servers.push(drain)
    // A server handed over mid-drain joins it where it is.
    if (this.#state !== 'serving') drain.beginDrain()
    return this
  }

  middleware(): Middleware {
    return this.#middleware
  }

  probe(kind: ProbeKind): Promise<ProbeResponse> {
    if (kind === 'liveness') return Promise.resolve(livenessResponse(this.#state))
    return readinessResponse(() => this.#state, this.#checks)
  }

  drain(reason = 'drain()'): Promise<DrainReport> {
    this.#drain ??= this.#run(reason)
    return this.#drain
  }

  handleSignals(options: SignalOptions = {}): Disposer {
    const source: SignalSource = options.source ?? process
    const signals = options.signals ?? ['SIGTERM', 'SIGINT']
    // Counted per lifecycle, not per call: a drain started by drain() is not a signal,
    // so the platform's SIGTERM during it starts nothing new and forces nothing.
    const onSignal = (signal: string): void => {
      this.#signals++
      if (this.#signals === 1) void this.drain(signal)
      else this.#finish(this.#report(1, 'signal'), `second signal (${signal}): exiting now`)
    }
    for (const signal of signals) source.on(signal, onSignal)
    return () => {
      for (const signal of signals) source.off(signal, onSignal)
    }
  }

  #buildMiddleware(): Middleware {
    const { livenessPath, readinessPath, shutdownProblem } = this.#o
    const inFlight = this.#inFlight
    const answerProbe = (ex: Exchange, kind: ProbeKind): Promise<void> =>
      this.probe(kind).then((r) => {
        ex.respond(r.status, ex.method === 'HEAD' ? null : r.body, { ...r.headers })
      })
    return function lifecycleMiddleware(ex: Exchange, next: Next): Promise<void> {
      const path = ex.path
      if (path === readinessPath || path === livenessPath) {
        const method = ex.method
        if (method === 'GET' || method === 'HEAD') {
          return answerProbe(ex, path === readinessPath ? 'readiness' : 'liveness')
        }
      }
      if (inFlight.refusing) {
        inFlight.refuse(ex, shutdownProblem)
        return Promise.resolve()
      }
      return inFlight.run(ex, next)
    }
  }

  async #run(reason: string): Promise<DrainReport> {
    const o = this.#o
    const clock = o.clock
    const boundMs = this.boundMs
    this.#progress.reason = reason
    this.#progress.started = clock.now()
    // A drain must reach exit(): hold the process open even if every handle is unref'd.
    this.#keepAlive = setInterval(() => {}, 1 << 30)
    // Every step is bounded by its own timer, so the drain ends by boundMs. This is the
    // net for the case where it did not (an event loop blocked mid-drain): once the
    // bound has passed and one more second, exit now.
    const backstop = clock.setTimeout(
      () => this.#finish(this.#report(1, 'bound'), 'drain exceeded its bound: exiting now'),
      boundMs + BACKSTOP_MS,
    )
    try {
      this.#setState('draining')
      this.#inFlight.beginDrain()
      for (const server of this.#servers) server.beginDrain()
      o.logger.info(
        {
          reason,
          inFlight: this.#inFlight.size,
          drainDelayMs: o.drainDelayMs,
          boundMs,
        },
        'draining',
      )
      await this.#sleep(o.drainDelayMs)

      const closed = Promise.all([
        // Half the window at most for the listener to go quiet, so requests accepted
        // late still have the other half to finish.
        ...this.#servers.map((s) => s.stopAccepting(o.drainTimeoutMs / 2)),
        this.#inFlight.empty(),
      ])
      if (!(await this.#within(closed, o.drainTimeoutMs))) {
        this.#inFlight.abortAll(o.shutdownProblem)
        this.#controller.abort(new ShutdownError('Server is shutting down: drain bound reached'))
        await this.#within(
          Promise.all([...this.#servers.map((s) => s.stopAccepting(0)), this.#inFlight.empty()]),
          o.abortGraceMs,
        )
      }
      for (const server of this.#servers) {
        this.#progress.connectionsDestroyed += server.forceClose()
        server.detach()
      }

      const end = this.#progress.started + boundMs
      for (const resource of [...this.#resources].reverse()) {
        // A step that overran (a blocked event loop) eats into the later ones, not the bound.
        const timeoutMs = Math.max(0, Math.min(resource.timeoutMs, end - clock.now()))
        this.#progress.resources.push(await this.#close(resource, timeoutMs))
      }
      this.#setState('stopped')
      const failed = this.#progress.resources.some((r) => r.outcome !== 'closed')
      const report = this.#report(failed ? 1 : 0)
      this.#finish(report, 'shutdown complete')
      return report
    } finally {
      clock.clearTimeout(backstop)
      clearInterval(this.#keepAlive)
      if (!this.#controller.signal.aborted) this.#controller.abort(new ShutdownError())
    }
  }

  async #close(resource: Resource, timeoutMs: number): Promise<ResourceOutcome> {
    const clock = this.#o.clock
    const started = clock.now()
    const controller = new AbortController()
    const outcome = (o: 'closed' | 'failed' | 'timeout', error?: unknown): ResourceOutcome => {
      const durationMs = Math.round(clock.now() - started)
      return error === undefined
        ? { name: resource.name, outcome: o, durationMs }
        : { name: resource.name, outcome: o, durationMs, error: describeError(error) }
    }
    let work: Promise<unknown>
    try {
      work = Promise.resolve(resource.fn(controller.signal))
    } catch (error) {
      return outcome('failed', error)
    }
    const result = await this.#within(
      work.then(
        () => outcome('closed'),
        (error: unknown) => outcome('failed', error),
      ),
      timeoutMs,
    )
    if (result !== false) return result
    controller.abort(new ShutdownError(`Closing ${resource.name} exceeded ${timeoutMs} ms`))
    return outcome('timeout')
  }

  #report(exitCode: 0 | 1, forced?: 'bound' | 'signal'): DrainReport {
    const p = this.#progress
    const inFlight = this.#inFlight
    const report: DrainReport = {
      reason: p.reason,
      exitCode,
      durationMs: Math.round(this.#o.clock.now() - p.started),
      boundMs: this.boundMs,
      inFlight: inFlight.inFlightAtDrain,
      drained: inFlight.drained,
      aborted: inFlight.aborted,
      connectionsDestroyed: p.connectionsDestroyed,
      resources: [...p.resources],
    }
    return forced === undefined ? report : { ...report, forced }
  }

  /** Logs the summary line and exits, once. */
  #finish(report: DrainReport, message: string): void {
    if (this.#exited) return
    this.#exited = true
    const log = this.#o.logger
    try {
      if (report.exitCode === 0) log.info(report, message)
      else log.error(report, message)
    } catch {
      // A broken logger must not keep the process from exiting.
    }
    const clock = this.#o.clock
    let timer: TimerHandle | undefined
    let called = false
    const exit = (): void => {
      if (called) return
      called = true
      if (timer !== undefined) clock.clearTimeout(timer)
      clearInterval(this.#keepAlive)
      this.#o.exit(report.exitCode)
    }
    if (typeof log.flush !== 'function') {
      exit()
      return
    }
    // An asynchronous destination (pino's default stdout is one) still holds the last
    // lines: exit once they are written, or after FLUSH_TIMEOUT_MS.
    timer = clock.setTimeout(exit, FLUSH_TIMEOUT_MS)
    try {
      log.flush(() => exit())
    } catch {
      exit()
    }
  }

  #setState(state: LifecycleState): void {
    if (this.#state === state) return
    this.#state = state
    for (const listener of [...this.#listeners]) {
      try {
        listener(state)
      } catch {
        // A listener must not break the drain.
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    if (ms === 0) return Promise.resolve()
    return new Promise((resolve) => this.#o.clock.setTimeout(resolve, ms))
  }

  /** `promise`'s value if it settles within `ms`, else `false`; never leaves a timer. */
  #within<T>(promise: Promise<T>, ms: number): Promise<T | false> {
    const clock = this.#o.clock
    return new Promise<T | false>((resolve, reject) => {
      const timer = clock.setTimeout(() => resolve(false), ms)
      promise.then(
        (value) => {
          clock.clearTimeout(timer)
          resolve(value)
        },
        (error: unknown) => {
          clock.clearTimeout(timer)
          reject(error)
        },
      )
    })
  }

  readonly #onCheck = (
    name: string,
    outcome: { status: string; reason?: string; durationMs: number; error?: unknown },
  ): void => {
    const fields = {
      check: name,
      status: outcome.status,
      reason: outcome.reason,
      durationMs: Math.round(outcome.durationMs),
      error: outcome.error === undefined ? undefined : describeError(outcome.error),
    }
    try {
      if (outcome.status === 'pass') this.#o.logger.info(fields, 'readiness check passing')
      else this.#o.logger.warn(fields, 'readiness check failing')
    } catch {
      // Logging must not break a probe.
    }
  }

  #checkBound(): void {
    if (this.#warnedBound || this.boundMs <= this.#o.gracePeriodMs) return
    this.#warnedBound = true
    this.#o.logger.warn(
      { boundMs: this.boundMs, gracePeriodMs: this.#o.gracePeriodMs },
      'the drain bound exceeds the grace period: the platform may kill the process mid-drain',
    )
  }
}
