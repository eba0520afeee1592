import type { Attributes, Span } from '@opentelemetry/api'
import { trace } from '@opentelemetry/api'
import type { Disposer, ObservablePolicy } from '@sturdy/core'
import { chaosEvents, hedgeEvents } from './chaos-hedge-events.ts'
import { errorType } from './error-type.ts'
import {
  ATTR_ERROR_TYPE,
  ATTR_STURDY_BREAKER_FROM,
  ATTR_STURDY_BREAKER_REASON,
  ATTR_STURDY_BREAKER_RETRY_AFTER_MS,
  ATTR_STURDY_BREAKER_STATE,
  ATTR_STURDY_BREAKER_TO,
  ATTR_STURDY_LIMIT_PRIORITY,
  ATTR_STURDY_LIMIT_REASON,
  ATTR_STURDY_POLICY_NAME,
  ATTR_STURDY_RATE_LIMIT_COST,
  ATTR_STURDY_RATE_LIMIT_FALLBACK_MODE,
  ATTR_STURDY_RATE_LIMIT_FALLBACK_REASON,
  ATTR_STURDY_RATE_LIMIT_RETRY_AFTER_MS,
  ATTR_STURDY_RETRY_ATTEMPT,
  ATTR_STURDY_RETRY_ATTEMPTS,
  ATTR_STURDY_RETRY_DELAY_MS,
  ATTR_STURDY_RETRY_GIVE_UP_REASON,
  EVENT_BREAKER_REJECTED,
  EVENT_BREAKER_STATE_CHANGE,
  EVENT_LIMIT_SHED,
  EVENT_RATE_LIMIT_FALLBACK,
  EVENT_RATE_LIMIT_REJECTED,
  EVENT_RETRY,
  EVENT_RETRY_BUDGET_EXHAUSTED,
  EVENT_RETRY_GIVE_UP,
} from './semconv.ts'
import type { TraceEventsOptions } from './types.ts'

type AddEvent = (name: string, attributes: () => Attributes) => void

/**
 * Turns what policies do into span events on the span active when they do it, instead
 * of extra spans: with fetch/http instrumentation on, every attempt already has its own
 * CLIENT span, so a retry needs a marker, not a fourth span.
 *
 * | policy | event | attributes |
 * |---|---|---|
 * | retry | `sturdy.retry` | `sturdy.retry.attempt` (the failed one), `sturdy.retry.delay_ms`, `error.type` |
 * | retry | `sturdy.retry.give_up` | `sturdy.retry.attempts`, `sturdy.retry.give_up_reason`, `error.type` |
 * | retry | `sturdy.retry.budget_exhausted` | `sturdy.retry.attempt` |
 * | breaker | `sturdy.breaker.state_change` | `sturdy.breaker.from`, `.to`, `.reason` |
 * | breaker | `sturdy.breaker.rejected` | `sturdy.breaker.state`, `.retry_after_ms` |
 * | rate-limit | `sturdy.rate_limit.rejected` | `sturdy.rate_limit.cost`, `.retry_after_ms` (absent when the cost never fits) |
 * | rate-limit | `sturdy.rate_limit.fallback` | `sturdy.rate_limit.fallback_reason`, `.fallback_mode`, `error.type` (when a call failed) |
 * | limit | `sturdy.limit.shed` | `sturdy.limit.reason`, `sturdy.limit.priority` |
 * | hedge | `sturdy.hedge` | `sturdy.hedge.attempt` (the new one), `.trigger`, `.delay_ms` |
 * | hedge | `sturdy.hedge.won` | `sturdy.hedge.attempt` (the winner), `.attempts` |
 * | hedge | `sturdy.hedge.budget_exhausted` | `sturdy.hedge.attempt` |
 * | chaos | `sturdy.chaos.injected` | `sturdy.chaos.kind`, `.scope`, `.latency_ms` |
 *
 * Every event carries `sturdy.policy.name`. Events are dropped when there is no
 * recording span.
 *
 * Timeout policies are accepted but their `timeout` events are not recorded: they fire
 * from a shared timer (`@sturdy/timeout`'s timer wheel), which does not run in the
 * call's async context, so "the active span" there could be another request's. A
 * timeout still reaches the span, through paths that are in context: the
 * `sturdy.deadline.exceeded` event that `tracing()` reads from the exchange, the
 * `error.type: TimeoutError` of a retry's events, and the recorded exception.
 *
 * A limiter's `limitChange` is not recorded: it happens when some request ends, which
 * says nothing about that request; the `sturdy_limit_concurrency_limit` metric shows it.
 *
 * @param policies one observable policy or several (retry, breaker, timeout, hedge, chaos, rate-limit, limit)
 * @param options.activeSpan finds the span an event goes to; @default `trace.getActiveSpan`
 * @returns a disposer that unsubscribes from every policy
 * @example
 * import { compose } from '@sturdy/core'
 * import { retry } from '@sturdy/retry'
 * import { circuitBreaker } from '@sturdy/breaker'
 * import { traceEvents } from '@sturdy/tracing'
 *
 * const r = retry({ maxAttempts: 3 })
 * const b = circuitBreaker({ name: 'inventory' })
 * const stop = traceEvents([r, b])
 * const policy = compose(r, b)
 * // ... on shutdown:
 * stop()
 */
export function traceEvents(
  policies: ObservablePolicy | readonly ObservablePolicy[],
  options: TraceEventsOptions = {},
): Disposer {
  const activeSpan = options.activeSpan ?? (() => trace.getActiveSpan())
  const add: AddEvent = (name, attributes) => {
    const span: Span | undefined = activeSpan()
    // An ended span is not recording; adding to it would only log an SDK warning.
    if (span === undefined || !span.isRecording()) return
    span.addEvent(name, attributes())
  }
  const list: readonly ObservablePolicy[] = isList(policies) ? policies : [policies]
  const disposers = list.flatMap((policy) => subscribe(policy, add))
  let live = true
  return () => {
    if (!live) return
    live = false
    for (const dispose of disposers) dispose()
  }
}

function isList(
  value: ObservablePolicy | readonly ObservablePolicy[],
): value is readonly ObservablePolicy[] {
  return Array.isArray(value)
}

function subscribe(policy: ObservablePolicy, add: AddEvent): Disposer[] {
  switch (policy.kind) {
    case 'retry':
      return [
        policy.events.on('retry', (e) =>
          add(EVENT_RETRY, () => ({
            [ATTR_STURDY_POLICY_NAME]: e.name,
            [ATTR_STURDY_RETRY_ATTEMPT]: e.attempt,
            [ATTR_STURDY_RETRY_DELAY_MS]: e.delayMs,
            [ATTR_ERROR_TYPE]: errorType(e.error),
          })),
        ),
        policy.events.on('giveUp', (e) =>
          add(EVENT_RETRY_GIVE_UP, () => ({
            [ATTR_STURDY_POLICY_NAME]: e.name,
            [ATTR_STURDY_RETRY_ATTEMPTS]: e.attempts,
            [ATTR_STURDY_RETRY_GIVE_UP_REASON]: e.reason,
            [ATTR_ERROR_TYPE]: errorType(e.error),
          })),
        ),
        policy.events.on('budgetExhausted', (e) =>
          add(EVENT_RETRY_BUDGET_EXHAUSTED, () => ({
            [ATTR_STURDY_POLICY_NAME]: e.name,
            [ATTR_STURDY_RETRY_ATTEMPT]: e.attempt,
          })),
        ),
      ]
    case 'breaker':
      return [
        policy.events.on('stateChange', (e) =>
          add(EVENT_BREAKER_STATE_CHANGE, () => ({
            [ATTR_STURDY_POLICY_NAME]: e.name,
            [ATTR_STURDY_BREAKER_FROM]: e.from,
            [ATTR_STURDY_BREAKER_TO]: e.to,
            [ATTR_STURDY_BREAKER_REASON]: e.reason,
          })),
        ),
        policy.events.on('rejected', (e) =>
          add(EVENT_BREAKER_REJECTED, () => ({
            [ATTR_STURDY_POLICY_NAME]: e.name,
            [ATTR_STURDY_BREAKER_STATE]: e.state,
            [ATTR_STURDY_BREAKER_RETRY_AFTER_MS]: e.retryAfterMs,
          })),
        ),
      ]
    case 'rate-limit':
      return [
        policy.events.on('rejected', (e) =>
          add(EVENT_RATE_LIMIT_REJECTED, () => {
            const attributes: Attributes = {
              [ATTR_STURDY_POLICY_NAME]: e.name,
              [ATTR_STURDY_RATE_LIMIT_COST]: e.cost,
            }
            if (Number.isFinite(e.retryAfterMs)) {
              attributes[ATTR_STURDY_RATE_LIMIT_RETRY_AFTER_MS] = e.retryAfterMs
            }
            return attributes
          }),
        ),
        policy.events.on('fallback', (e) =>
          add(EVENT_RATE_LIMIT_FALLBACK, () => {
            const attributes: Attributes = {
              [ATTR_STURDY_POLICY_NAME]: e.name,
              [ATTR_STURDY_RATE_LIMIT_FALLBACK_REASON]: e.reason,
              [ATTR_STURDY_RATE_LIMIT_FALLBACK_MODE]: e.mode,
            }
            if (e.error !== undefined) attributes[ATTR_ERROR_TYPE] = errorType(e.error)
            return attributes
          }),
        ),
      ]
    case 'limit':
      return [
        policy.events.on('shed', (e) =>
          add(EVENT_LIMIT_SHED, () => ({
            [ATTR_STURDY_POLICY_NAME]: e.name,
            [ATTR_STURDY_LIMIT_REASON]: e.reason,
            [ATTR_STURDY_LIMIT_PRIORITY]: e.priority,
          })),
        ),
      ]
    case 'chaos':
      return chaosEvents(policy, add)
    case 'hedge':
      return hedgeEvents(policy, add)
    default:
      // Timeouts: see above. Kinds newer than this package: nothing to translate.
      return []
  }
}
