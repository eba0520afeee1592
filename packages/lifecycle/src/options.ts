import type { Clock, Problem } from '@sturdy/core'
import { statusTitle, systemClock } from '@sturdy/core'
import type { LifecycleLogger } from './logger.ts'
import { jsonLineLogger } from './logger.ts'

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

/** The options with every default applied, and what they imply. */
export interface Resolved {
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

/** Applies the defaults and checks every duration. */
export function resolveOptions(options: LifecycleOptions): Resolved {
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

/** A registered resource. */
export interface Resource {
  readonly name: string
  readonly fn: CloseFn
  readonly timeoutMs: number
}
