import type { Clock, TimerHandle } from '@sturdy/core'
import { TimeoutError } from '@sturdy/core'

/**
 * A readiness check: resolves (with anything but `false`) when the dependency is usable.
 * It fails when it throws, rejects, returns `false` or outlives its timeout. `signal`
 * aborts at the timeout: pass it to the I/O so a hung dependency is not left waiting.
 */
export type ReadinessCheck = (signal: AbortSignal) => unknown

/** Options of one readiness check (`lifecycle().check(name, fn, options)`). */
export interface CheckOptions {
  /**
   * How long the check may take before it counts as failing. Keep it below the probe's
   * own timeout (Kubernetes `timeoutSeconds`, 1 s by default).
   * @default the lifecycle's `checkTimeoutMs` (500)
   */
  timeoutMs?: number
  /**
   * How long a result (pass or fail) is reused, so probes from the kubelet, a load
   * balancer and a human do not each hit the dependency. `0` runs the check on every
   * probe (concurrent probes still share one run).
   * @default the lifecycle's `checkCacheMs` (1000)
   */
  cacheMs?: number
}

/** Why a check failed. */
export type CheckFailure = 'timeout' | 'error' | 'false'

/** One check's latest result, as the readiness probe reports it. */
export interface CheckResult {
  readonly status: 'pass' | 'fail'
  /** Why it failed; absent when it passed. */
  readonly reason?: CheckFailure
  /** How long the run took (the timeout, for a check that timed out). */
  readonly durationMs: number
}

/** A result plus what only the logs see (error messages never reach a probe body). */
interface Outcome extends CheckResult {
  readonly error?: unknown
}

/** Told when a check's status changes (first result included when it fails). */
export type CheckTransition = (
  name: string,
  outcome: Outcome,
  previous: Outcome | undefined,
) => void

/**
 * One registered check: runs the function with a timeout, caches the result for
 * `cacheMs`, and lets concurrent probes share one run (single flight). A run that
 * timed out is abandoned — its signal aborted — and the next probe after the cache
 * expires starts a fresh one, so a check that recovers is seen recovering even if an
 * earlier run never settles.
 */
export class Check {
  readonly name: string
  readonly #fn: ReadinessCheck
  readonly #timeoutMs: number
  readonly #cacheMs: number
  readonly #clock: Clock
  readonly #onTransition: CheckTransition
  #last: Outcome | undefined
  #lastAt = Number.NEGATIVE_INFINITY
  #running: Promise<Outcome> | undefined

  constructor(
    name: string,
    fn: ReadinessCheck,
    timeoutMs: number,
    cacheMs: number,
    clock: Clock,
    onTransition: CheckTransition,
  ) {
    this.name = name
    this.#fn = fn
    this.#timeoutMs = timeoutMs
    this.#cacheMs = cacheMs
    this.#clock = clock
    this.#onTransition = onTransition
  }

  /** The cached result when fresh, else the running (or a new) run's result. Never rejects. */
  result(): Promise<CheckResult> {
    if (this.#last !== undefined && this.#clock.now() - this.#lastAt < this.#cacheMs) {
      return Promise.resolve(this.#last)
    }
    if (this.#running === undefined) {
      this.#running = this.#run().then((outcome) => {
        this.#running = undefined
        const previous = this.#last
        this.#last = outcome
        this.#lastAt = this.#clock.now()
        if (
          outcome.status !== previous?.status &&
          (previous !== undefined || outcome.status === 'fail')
        ) {
          this.#onTransition(this.name, outcome, previous)
        }
        return outcome
      })
    }
    return this.#running
  }

  #run(): Promise<Outcome> {
    const clock = this.#clock
    const started = clock.now()
    const timeoutMs = this.#timeoutMs
    const controller = new AbortController()
    return new Promise<Outcome>((resolve) => {
      let done = false
      const settle = (outcome: Outcome): void => {
        if (done) return
        done = true
        clock.clearTimeout(timer)
        resolve(outcome)
      }
      const failed = (reason: CheckFailure, error?: unknown): void =>
        settle({ status: 'fail', reason, durationMs: clock.now() - started, error })
      const timer: TimerHandle = clock.setTimeout(() => {
        const error = new TimeoutError(`Check exceeded ${timeoutMs} ms`, timeoutMs)
        failed('timeout', error)
        controller.abort(error)
      }, timeoutMs)
      let value: unknown
      try {
        value = this.#fn(controller.signal)
      } catch (error) {
        failed('error', error)
        return
      }
      Promise.resolve(value).then(
        (v) =>
          v === false
            ? failed('false')
            : settle({ status: 'pass', durationMs: clock.now() - started }),
        (error: unknown) => failed('error', error),
      )
    })
  }
}
