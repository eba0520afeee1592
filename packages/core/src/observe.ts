/**
 * The events policies emit, defined here so observers (`@sturdy/metrics`,
 * `@sturdy/tracing`, `@sturdy/logger`) depend on `@sturdy/core` alone, never on the
 * policy packages they observe. Every payload carries the policy's `name`, so one
 * observer can watch many policies (keyed breakers use the key as the name).
 */
import type { Events } from './events.ts'

/** The states a circuit breaker can be in. `isolated` is a manual hold-open. */
export type CircuitState = 'closed' | 'open' | 'half-open' | 'isolated'

/** Events of a retry policy. */
export interface RetryEventMap {
  /** An attempt is about to start (attempt 1 is the first call). */
  attempt: { readonly name: string; readonly attempt: number }
  /** An attempt ended; `durationMs` is its own latency. */
  attemptEnd: {
    readonly name: string
    readonly attempt: number
    readonly durationMs: number
    readonly outcome: 'success' | 'failure'
  }
  /** An attempt failed and another will start after `delayMs`. */
  retry: {
    readonly name: string
    readonly attempt: number
    readonly delayMs: number
    readonly error: unknown
  }
  /** The policy stopped retrying and the call failed. */
  giveUp: {
    readonly name: string
    readonly attempts: number
    readonly error: unknown
    readonly reason:
      | 'max-attempts'
      | 'not-retryable'
      | 'deadline'
      | 'aborted'
      | 'pushback'
      | 'budget-exhausted'
      | 'circuit-open'
  }
  /** A retry was refused because the shared retry budget is exhausted. */
  budgetExhausted: { readonly name: string; readonly attempt: number }
}

/** Events of a circuit breaker. */
export interface BreakerEventMap {
  stateChange: {
    readonly name: string
    readonly from: CircuitState
    readonly to: CircuitState
    /** Why: a trip (`consecutive-failures` by the default `readyToTrip`, `ready-to-trip` by a custom one, or a ratio), the open period ending, a half-open trial's verdict, a manual `isolate`/`reset`, or one of these heard from another replica (`remote-*`). */
    readonly reason:
      | 'consecutive-failures'
      | 'ready-to-trip'
      | 'failure-ratio'
      | 'slow-call-ratio'
      | 'timeout-elapsed'
      | 'probe-succeeded'
      | 'probe-failed'
      | 'probe-slow'
      | 'isolate'
      | 'reset'
      /** Another replica tripped the circuit (shared breaker state). */
      | 'remote-trip'
      /** Another replica's half-open trial closed the circuit (shared breaker state). */
      | 'remote-close'
      /** Another replica called `isolate({ shared: true })` (shared breaker state). */
      | 'remote-isolate'
      /** Another replica called `reset({ shared: true })` (shared breaker state). */
      | 'remote-reset'
  }
  /** A call was rejected without running (open, isolated, or half-open at capacity). */
  rejected: { readonly name: string; readonly state: CircuitState; readonly retryAfterMs: number }
  success: { readonly name: string; readonly durationMs: number; readonly slow: boolean }
  failure: {
    readonly name: string
    readonly durationMs: number
    readonly slow: boolean
    readonly error: unknown
  }
}

/** Events of a timeout policy or the deadline middleware. */
export interface TimeoutEventMap {
  /** A budget ran out and the work was aborted. */
  timeout: {
    readonly name: string
    readonly timeoutMs: number
    /** `policy` for a per-call timeout, `deadline` for a request deadline. */
    readonly scope: 'policy' | 'deadline'
  }
}

/** Events of a rate limiter (`@sturdy/rate-limit`). Payloads never carry the client key. */
export interface RateLimitEventMap {
  /** A request was admitted (emitted only while someone listens). */
  allowed: { readonly name: string; readonly cost: number; readonly remaining: number }
  /** A request was refused; `retryAfterMs` is `Infinity` when its cost exceeds the limit. */
  rejected: { readonly name: string; readonly cost: number; readonly retryAfterMs: number }
  /**
   * The shared store could not decide (it timed out, failed, or is still considered down
   * after a failure: `unavailable`), and the fallback decided instead.
   */
  fallback: {
    readonly name: string
    readonly reason: 'timeout' | 'error' | 'unavailable'
    /** What decided: a local limit, or a blanket allow / deny. */
    readonly mode: 'local' | 'allow' | 'deny'
    /** The failure; undefined for `unavailable`. */
    readonly error: unknown
  }
  /** The shared store decided again after fallbacks; `downMs` is how long it did not. */
  recovered: { readonly name: string; readonly downMs: number }
}

/** How important a request is to a concurrency limiter; lower classes are shed first. */
export type LimitPriority = 'critical' | 'normal' | 'sheddable'

/**
 * Why a limiter refused work: the concurrency `limit` was reached, the wait `queue` was
 * full or its `queue-timeout` passed, the request's `deadline` could not be met, a
 * runtime `pressure` signal (event-loop delay) said the process is overloaded, or a
 * client-side adaptive throttle refused it locally (`throttled`).
 */
export type ShedReason =
  | 'limit'
  | 'queue-full'
  | 'queue-timeout'
  | 'deadline'
  | 'pressure'
  | 'throttled'

/** What a concurrency limiter or an adaptive throttle reports about itself right now. */
export interface LimitStats {
  /** The current concurrency limit (`Infinity` for a throttle, which has none). */
  readonly limit: number
  /** Work admitted and not yet finished. */
  readonly inflight: number
  /** Work waiting in the queue. */
  readonly queued: number
}

/** Events of a concurrency limiter (`@sturdy/limit`), server or client side. */
export interface LimitEventMap {
  /** The limit moved (adaptive algorithms adjust it from observed latency). */
  limitChange: { readonly name: string; readonly from: number; readonly to: number }
  /**
   * Work was refused without running. Payloads are shared between events of the same
   * name, reason and priority (no allocation per shed request): do not keep or mutate them.
   */
  shed: {
    readonly name: string
    readonly reason: ShedReason
    readonly priority: LimitPriority
  }
}

/** The kinds of fault `@sturdy/chaos` injects. */
export type ChaosKind = 'fault' | 'latency' | 'outcome' | 'hang' | 'behaviour'

/** Events of a chaos policy or chaos middleware (`@sturdy/chaos`). */
export interface ChaosEventMap {
  /** A fault was injected on purpose: a drill, not an outage. */
  injected: {
    readonly name: string
    readonly kind: ChaosKind
    /** `policy` for a call wrapped by a chaos policy, `middleware` for a server request. */
    readonly scope: 'policy' | 'middleware'
    /** The delay added, for `latency`; 0 for every other kind. */
    readonly latencyMs: number
  }
  /** The settings were changed at run time (the admin handler, or `update()`). */
  changed: {
    readonly name: string
    readonly enabled: boolean
    readonly injectionRate: number
  }
}

/** Events of a hedging policy (`@sturdy/retry`'s `hedge()`). */
export interface HedgeEventMap {
  /** Another attempt starts in parallel with the ones still running. */
  hedge: {
    readonly name: string
    /** The attempt being started: 2 for the first hedge. */
    readonly attempt: number
    /** `delay`: no answer within the hedging delay; `failure`: an attempt failed. */
    readonly trigger: 'delay' | 'failure'
    /** The hedging delay in force for this call (fixed, or the percentile of recent latencies). */
    readonly delayMs: number
  }
  /** A hedged attempt (not the first) gave the accepted answer; the others were aborted. */
  hedgeWon: {
    readonly name: string
    /** The attempt that won (>= 2). */
    readonly attempt: number
    /** Attempts started in all. */
    readonly attempts: number
    /** From the call's start to the winning answer. */
    readonly durationMs: number
  }
  /** A hedge was not sent because the shared retry budget is spent. */
  budgetExhausted: { readonly name: string; readonly attempt: number }
}

/**
 * What a chaos middleware records on the exchange (`VALUES.chaos`, a list: one entry per
 * injection), so the access log and the server span show the request was a drill.
 */
export interface ChaosMark {
  readonly name: string
  readonly kind: ChaosKind
}

/** Anything an observer can subscribe to: a policy that names itself and emits events. */
export type ObservablePolicy =
  | { readonly kind: 'retry'; readonly name: string; readonly events: Events<RetryEventMap> }
  | {
      readonly kind: 'breaker'
      readonly name: string
      readonly events: Events<BreakerEventMap>
      /** The current state, when the breaker is a single one (keyed sets have none). */
      readonly state?: CircuitState
    }
  | { readonly kind: 'timeout'; readonly name: string; readonly events: Events<TimeoutEventMap> }
  | {
      readonly kind: 'rate-limit'
      readonly name: string
      readonly events: Events<RateLimitEventMap>
    }
  | {
      readonly kind: 'limit'
      readonly name: string
      readonly events: Events<LimitEventMap>
      /** The limit, in-flight and queued work now, read by observers at scrape time. */
      readonly stats?: () => LimitStats
    }
  | { readonly kind: 'chaos'; readonly name: string; readonly events: Events<ChaosEventMap> }
  | { readonly kind: 'hedge'; readonly name: string; readonly events: Events<HedgeEventMap> }

/**
 * Conventional keys for per-request values on the Exchange (`ex.get`/`ex.set`), so
 * packages find each other's values without importing each other.
 */
export const VALUES: {
  /** `AbortSignal`: the request signal, for handlers. */
  readonly signal: 'signal'
  /** `string`: the request id. */
  readonly requestId: 'requestId'
  /** the request's child logger. */
  readonly log: 'log'
  /** `TraceContext` of the request's span, set by `@sturdy/tracing`. */
  readonly trace: 'trace'
  /** `number`: the request's absolute deadline, set by `@sturdy/timeout`'s `deadline()`. */
  readonly deadline: 'deadline'
  /** `readonly ChaosMark[]`: faults `@sturdy/chaos` injected into this request. */
  readonly chaos: 'chaos'
} = {
  signal: 'signal',
  requestId: 'requestId',
  log: 'log',
  trace: 'trace',
  deadline: 'deadline',
  chaos: 'chaos',
}

/** The identifiers of the request's span, as the tracing middleware shares them. */
export interface TraceContext {
  readonly traceId: string
  readonly spanId: string
  /** W3C trace flags; 1 = sampled. */
  readonly traceFlags: number
  /**
   * The W3C `tracestate` of the span, so vendors' entries reach the next hop: the
   * header value (`vendor1=a,vendor2=b`), or an object that serializes to it (an
   * OpenTelemetry `TraceState`, so a `SpanContext` is a `TraceContext` as it is);
   * undefined when there is none. Read it with `traceStateOf()`.
   */
  readonly traceState?: string | { serialize(): string }
}

/**
 * The `tracestate` header value of a trace context, or undefined when it has none (or
 * an empty one, which the W3C spec says not to send).
 *
 * @param trace the trace context
 * @returns the header value, or undefined
 * @example traceStateOf(c.var.trace) // 'vendor=abc'
 */
export function traceStateOf(trace: TraceContext): string | undefined {
  const state = trace.traceState
  if (state === undefined) return undefined
  const text = typeof state === 'string' ? state : state.serialize()
  return text === '' ? undefined : text
}
