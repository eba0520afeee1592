import type { Disposer, Events, ObservablePolicy } from '@sturdy/core'
import type { LevelWithSilent, Logger } from 'pino'
import { errSerializerFor, serializeError } from './serialize-error.ts'

/** The policy events `logPolicyEvents()` writes, each with its own level. */
export interface PolicyLogLevels {
  /** A breaker changed state (closed → open, open → half-open, ...). @default 'warn' */
  stateChange?: LevelWithSilent
  /** A breaker refused a call without running it. @default 'debug' */
  rejected?: LevelWithSilent
  /** A failed attempt will be retried. @default 'debug' */
  retry?: LevelWithSilent
  /** A retry policy stopped retrying and the call failed. @default 'info' */
  giveUp?: LevelWithSilent
  /** A retry was refused because the retry budget is spent. @default 'info' */
  budgetExhausted?: LevelWithSilent
  /** A timeout or deadline fired. @default 'debug' */
  timeout?: LevelWithSilent
  /** A rate limiter refused a request or call. @default 'debug' */
  rateLimited?: LevelWithSilent
  /**
   * A rate limiter's shared store timed out or failed, and its fallback decided. Decisions
   * made while the store is known to be down are not logged one by one. @default 'warn'
   */
  rateLimitFallback?: LevelWithSilent
  /** A rate limiter's shared store decides again; carries how long it did not. @default 'info' */
  rateLimitRecovered?: LevelWithSilent
  /** A limiter refused work (overload, a queue, a deadline, a throttle). One line per request: keep it low. @default 'debug' */
  shed?: LevelWithSilent
  /** An adaptive limiter moved its limit (up to ten times a second). @default 'debug' */
  limitChange?: LevelWithSilent
  /** Chaos injected a fault on purpose (one line per injection). @default 'debug' */
  injected?: LevelWithSilent
  /** Someone changed chaos settings at run time (the admin handler, `update()`). @default 'warn' */
  changed?: LevelWithSilent
  /** A hedging policy started another attempt. @default 'debug' */
  hedge?: LevelWithSilent
  /** A hedged attempt gave the answer. @default 'debug' */
  hedgeWon?: LevelWithSilent
}

/** Options of `logPolicyEvents()`. */
export interface PolicyLogOptions {
  /** Levels per event; `silent` does not subscribe at all. @default see `PolicyLogLevels` */
  levels?: PolicyLogLevels
}

/** Messages of the policy log lines, by event. */
export const POLICY_MESSAGES: {
  readonly stateChange: 'circuit breaker state changed'
  readonly rejected: 'circuit breaker rejected a call'
  readonly retry: 'retrying after failure'
  readonly giveUp: 'gave up retrying'
  readonly budgetExhausted: 'retry budget exhausted'
  readonly timeout: 'timed out'
  readonly rateLimited: 'rate limit exceeded'
  readonly rateLimitFallback: 'rate limit store unavailable, deciding by fallback'
  readonly rateLimitRecovered: 'rate limit store recovered'
  readonly shed: 'shed load'
  readonly limitChange: 'concurrency limit changed'
  readonly injected: 'chaos injected a fault'
  readonly changed: 'chaos settings changed'
  readonly hedge: 'hedging'
  readonly hedgeWon: 'hedge won'
} = {
  stateChange: 'circuit breaker state changed',
  rejected: 'circuit breaker rejected a call',
  retry: 'retrying after failure',
  giveUp: 'gave up retrying',
  budgetExhausted: 'retry budget exhausted',
  timeout: 'timed out',
  rateLimited: 'rate limit exceeded',
  rateLimitFallback: 'rate limit store unavailable, deciding by fallback',
  rateLimitRecovered: 'rate limit store recovered',
  shed: 'shed load',
  limitChange: 'concurrency limit changed',
  injected: 'chaos injected a fault',
  changed: 'chaos settings changed',
  hedge: 'hedging',
  hedgeWon: 'hedge won',
}

/**
 * Logs what resilience policies do: breaker transitions at `warn`, retries at `debug`,
 * give-ups at `info` (all configurable). Every line carries `policy` (the event's
 * name: for keyed breakers, the key) and `kind`. Subscribe once, at startup, with
 * the service's root logger: policies outlive requests, so their lines carry no
 * `req_id`.
 *
 * @param policies one observable policy or several (retry, breaker, timeout, hedge, chaos, rate-limit, limit)
 * @param logger the pino logger to write to
 * @param options `levels` per event (see `PolicyLogLevels` for each default)
 * @returns a disposer that unsubscribes from every policy
 * @example
 * import pino from 'pino'
 * import { circuitBreaker } from '@sturdy/breaker'
 * import { logPolicyEvents } from '@sturdy/logger'
 *
 * const breaker = circuitBreaker({ name: 'payments' })
 * const stop = logPolicyEvents(breaker, pino())
 * // later, on shutdown:
 * stop()
 */
export function logPolicyEvents(
  policies: ObservablePolicy | readonly ObservablePolicy[],
  logger: Logger,
  options: PolicyLogOptions = {},
): Disposer {
  const levels = options.levels ?? {}
  // One child, made once, so the errors serialized here keep their shape (see
  // errSerializerFor); it binds nothing, so no key is added twice.
  const log = logger.child({}, { serializers: { err: errSerializerFor(logger) } })
  const list: readonly ObservablePolicy[] = isPolicyList(policies) ? policies : [policies]
  const disposers: Disposer[] = []
  const on = <M, K extends keyof M>(
    events: Events<M>,
    event: K,
    level: LevelWithSilent,
    line: (payload: M[K]) => Record<string, unknown> | undefined,
    message: string = POLICY_MESSAGES[event as keyof typeof POLICY_MESSAGES],
  ): void => {
    if (level === 'silent') return
    disposers.push(
      events.on(event, (payload) => {
        const fields = line(payload)
        if (fields !== undefined) log[level](fields, message)
      }),
    )
  }

  for (const policy of list) {
    switch (policy.kind) {
      case 'breaker': {
        const events = policy.events
        on(events, 'stateChange', levels.stateChange ?? 'warn', (e) => ({
          policy: e.name,
          kind: 'breaker',
          from: e.from,
          to: e.to,
          reason: e.reason,
        }))
        on(events, 'rejected', levels.rejected ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'breaker',
          state: e.state,
          retry_after_ms: e.retryAfterMs,
        }))
        break
      }
      case 'retry': {
        const events = policy.events
        on(events, 'retry', levels.retry ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'retry',
          attempt: e.attempt,
          delay_ms: e.delayMs,
          err: serializeError(e.error, false),
        }))
        on(events, 'giveUp', levels.giveUp ?? 'info', (e) => ({
          policy: e.name,
          kind: 'retry',
          attempts: e.attempts,
          reason: e.reason,
          err: serializeError(e.error, true),
        }))
        on(events, 'budgetExhausted', levels.budgetExhausted ?? 'info', (e) => ({
          policy: e.name,
          kind: 'retry',
          attempt: e.attempt,
        }))
        break
      }
      case 'timeout': {
        const events = policy.events
        on(events, 'timeout', levels.timeout ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'timeout',
          timeout_ms: e.timeoutMs,
          scope: e.scope,
        }))
        break
      }
      case 'rate-limit': {
        const events = policy.events
        on(
          events,
          'rejected',
          levels.rateLimited ?? 'debug',
          (e) => ({
            policy: e.name,
            kind: 'rate-limit',
            cost: e.cost,
            retry_after_ms: Number.isFinite(e.retryAfterMs) ? e.retryAfterMs : null,
          }),
          POLICY_MESSAGES.rateLimited,
        )
        on(
          events,
          'fallback',
          levels.rateLimitFallback ?? 'warn',
          // One line per failure, not one per request decided while the store is down.
          (e) =>
            e.reason === 'unavailable'
              ? undefined
              : {
                  policy: e.name,
                  kind: 'rate-limit',
                  reason: e.reason,
                  fallback: e.mode,
                  err: serializeError(e.error, false),
                },
          POLICY_MESSAGES.rateLimitFallback,
        )
        on(
          events,
          'recovered',
          levels.rateLimitRecovered ?? 'info',
          (e) => ({ policy: e.name, kind: 'rate-limit', down_ms: Math.round(e.downMs) }),
          POLICY_MESSAGES.rateLimitRecovered,
        )
        break
      }
      case 'limit': {
        const events = policy.events
        on(events, 'shed', levels.shed ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'limit',
          reason: e.reason,
          priority: e.priority,
        }))
        on(events, 'limitChange', levels.limitChange ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'limit',
          from: e.from,
          to: e.to,
        }))
        break
      }
      case 'chaos': {
        // `chaos: true` on every line, so a drill is never read as an outage.
        const events = policy.events
        on(events, 'injected', levels.injected ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'chaos',
          chaos: true,
          chaos_kind: e.kind,
          scope: e.scope,
          latency_ms: e.latencyMs,
        }))
        on(events, 'changed', levels.changed ?? 'warn', (e) => ({
          policy: e.name,
          kind: 'chaos',
          chaos: true,
          enabled: e.enabled,
          injection_rate: e.injectionRate,
        }))
        break
      }
      case 'hedge': {
        const events = policy.events
        on(events, 'hedge', levels.hedge ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'hedge',
          attempt: e.attempt,
          trigger: e.trigger,
          delay_ms: e.delayMs,
        }))
        on(events, 'hedgeWon', levels.hedgeWon ?? 'debug', (e) => ({
          policy: e.name,
          kind: 'hedge',
          attempt: e.attempt,
          attempts: e.attempts,
          duration_ms: e.durationMs,
        }))
        on(events, 'budgetExhausted', levels.budgetExhausted ?? 'info', (e) => ({
          policy: e.name,
          kind: 'hedge',
          attempt: e.attempt,
        }))
        break
      }
    }
  }

  let live = true
  return () => {
    if (!live) return
    live = false
    for (const dispose of disposers) dispose()
  }
}

function isPolicyList(
  value: ObservablePolicy | readonly ObservablePolicy[],
): value is readonly ObservablePolicy[] {
  return Array.isArray(value)
}
