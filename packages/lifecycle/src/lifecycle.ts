import type { Disposer, Exchange, Middleware, Next } from '@sturdy/core'
import type { CheckOptions, ReadinessCheck } from './checks.ts'
import { Check } from './checks.ts'
import type { DrainReport } from './drain.ts'
import { Drain } from './drain.ts'
import { InFlight } from './in-flight.ts'
import { describeError } from './logger.ts'
import type {
  CloseFn,
  CloseOptions,
  LifecycleOptions,
  Resolved,
  Resource,
  SignalOptions,
  SignalSource,
} from './options.ts'
import { resolveOptions } from './options.ts'
import type { LifecycleState, ProbeKind, ProbeResponse } from './probes.ts'
import { livenessResponse, readinessResponse } from './probes.ts'
import type { DrainableServer } from './server.ts'
import { ServerDrain } from './server.ts'

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
  #running: Drain | undefined
  #drain: Promise<DrainReport> | undefined
  #warnedBound = false
  #signals = 0

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
    if (this.#drain !== undefined) return this.#drain
    const running = new Drain(
      {
        options: this.#o,
        inFlight: this.#inFlight,
        servers: this.#servers,
        resources: this.#resources,
        boundMs: this.boundMs,
        setState: (state) => this.#setState(state),
        abort: (reason) => {
          if (!this.#controller.signal.aborted) this.#controller.abort(reason)
        },
      },
      reason,
    )
    this.#running = running
    this.#drain = running.run()
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
      else this.#running?.force(`second signal (${signal}): exiting now`)
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
