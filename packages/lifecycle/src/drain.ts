import type { TimerHandle } from '@sturdy/core'
import { ShutdownError } from '@sturdy/core'
import type { InFlight } from './in-flight.ts'
import { describeError } from './logger.ts'
import type { Resolved, Resource } from './options.ts'
import type { LifecycleState } from './probes.ts'
import type { ServerDrain } from './server.ts'

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

/** What a drain works on, handed over by the lifecycle. */
export interface DrainParts {
  readonly options: Resolved
  readonly inFlight: InFlight
  readonly servers: readonly ServerDrain[]
  readonly resources: readonly Resource[]
  readonly boundMs: number
  setState(state: LifecycleState): void
  /** Aborts the lifecycle's `signal`. */
  abort(reason: ShutdownError): void
}

/** How long after its bound a drain that is still running is cut short with exit(1). */
const BACKSTOP_MS = 1000
/** How long the logger's flush may take before exit is called anyway. */
const FLUSH_TIMEOUT_MS = 500

/**
 * One drain, from the first moment to `exit`: the steps of `lifecycle()`'s JSDoc, each
 * bounded by a timer on the injected clock, and the summary line. `force()` ends it
 * early (a second signal).
 */
export class Drain {
  readonly #p: DrainParts
  readonly #reason: string
  #started = 0
  #connectionsDestroyed = 0
  readonly #resources: ResourceOutcome[] = []
  #exited = false
  #keepAlive: ReturnType<typeof setInterval> | undefined

  constructor(parts: DrainParts, reason: string) {
    this.#p = parts
    this.#reason = reason
  }

  /** Logs why and exits 1 now, whatever step the drain is in. */
  force(message: string): void {
    this.#finish(this.#report(1, 'signal'), message)
  }

  /** Runs the drain; resolves with the report once `exit` has been called (or is due). */
  async run(): Promise<DrainReport> {
    const p = this.#p
    const o = p.options
    const clock = o.clock
    const boundMs = p.boundMs
    const reason = this.#reason
    this.#started = clock.now()
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
      p.setState('draining')
      p.inFlight.beginDrain()
      for (const server of p.servers) server.beginDrain()
      o.logger.info(
        {
          reason,
          inFlight: p.inFlight.size,
          drainDelayMs: o.drainDelayMs,
          boundMs,
        },
        'draining',
      )
      await this.#sleep(o.drainDelayMs)

      const closed = Promise.all([
        // Half the window at most for the listener to go quiet, so requests accepted
        // late still have the other half to finish.
        ...p.servers.map((s) => s.stopAccepting(o.drainTimeoutMs / 2)),
        p.inFlight.empty(),
      ])
      if (!(await this.#within(closed, o.drainTimeoutMs))) {
        p.inFlight.abortAll(o.shutdownProblem)
        p.abort(new ShutdownError('Server is shutting down: drain bound reached'))
        await this.#within(
          Promise.all([...p.servers.map((s) => s.stopAccepting(0)), p.inFlight.empty()]),
          o.abortGraceMs,
        )
      }
      for (const server of p.servers) {
        this.#connectionsDestroyed += server.forceClose()
        server.detach()
      }

      const end = this.#started + boundMs
      for (const resource of [...p.resources].reverse()) {
        // A step that overran (a blocked event loop) eats into the later ones, not the bound.
        const timeoutMs = Math.max(0, Math.min(resource.timeoutMs, end - clock.now()))
        this.#resources.push(await this.#close(resource, timeoutMs))
      }
      p.setState('stopped')
      const failed = this.#resources.some((r) => r.outcome !== 'closed')
      const report = this.#report(failed ? 1 : 0)
      this.#finish(report, 'shutdown complete')
      return report
    } finally {
      // The keep-alive goes with exit(), which may still wait for the logger's flush.
      clock.clearTimeout(backstop)
      p.abort(new ShutdownError())
    }
  }

  async #close(resource: Resource, timeoutMs: number): Promise<ResourceOutcome> {
    const clock = this.#p.options.clock
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
    const { inFlight, options, boundMs } = this.#p
    const report: DrainReport = {
      reason: this.#reason,
      exitCode,
      durationMs: Math.round(options.clock.now() - this.#started),
      boundMs,
      inFlight: inFlight.inFlightAtDrain,
      drained: inFlight.drained,
      aborted: inFlight.aborted,
      connectionsDestroyed: this.#connectionsDestroyed,
      resources: [...this.#resources],
    }
    return forced === undefined ? report : { ...report, forced }
  }

  /** Logs the summary line and exits, once. */
  #finish(report: DrainReport, message: string): void {
    if (this.#exited) return
    this.#exited = true
    const log = this.#p.options.logger
    try {
      if (report.exitCode === 0) log.info(report, message)
      else log.error(report, message)
    } catch {
      // A broken logger must not keep the process from exiting.
    }
    const clock = this.#p.options.clock
    let timer: TimerHandle | undefined
    let called = false
    const exit = (): void => {
      if (called) return
      called = true
      if (timer !== undefined) clock.clearTimeout(timer)
      clearInterval(this.#keepAlive)
      this.#p.options.exit(report.exitCode)
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

  #sleep(ms: number): Promise<void> {
    if (ms === 0) return Promise.resolve()
    return new Promise((resolve) => this.#p.options.clock.setTimeout(resolve, ms))
  }

  /** `promise`'s value if it settles within `ms`, else `false`; never leaves a timer. */
  #within<T>(promise: Promise<T>, ms: number): Promise<T | false> {
    const clock = this.#p.options.clock
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
}
