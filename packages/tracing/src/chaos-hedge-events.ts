import type { Attributes } from '@opentelemetry/api'
import type { ChaosEventMap, Disposer, Events, HedgeEventMap } from '@sturdy/core'
import {
  ATTR_STURDY_CHAOS_KIND,
  ATTR_STURDY_CHAOS_LATENCY_MS,
  ATTR_STURDY_CHAOS_SCOPE,
  ATTR_STURDY_HEDGE_ATTEMPT,
  ATTR_STURDY_HEDGE_ATTEMPTS,
  ATTR_STURDY_HEDGE_DELAY_MS,
  ATTR_STURDY_HEDGE_TRIGGER,
  ATTR_STURDY_POLICY_NAME,
  EVENT_CHAOS_INJECTED,
  EVENT_HEDGE,
  EVENT_HEDGE_BUDGET_EXHAUSTED,
  EVENT_HEDGE_WON,
} from './semconv.ts'

type AddEvent = (name: string, attributes: () => Attributes) => void

/**
 * Chaos injections as span events on the active span, so a trace of a drill says so:
 * `sturdy.chaos.injected` with `sturdy.chaos.kind`, `.scope`, `.latency_ms`. Settings
 * changes (`changed`) happen outside any request and are left to logs and metrics.
 */
export function chaosEvents(
  policy: { readonly events: Events<ChaosEventMap> },
  add: AddEvent,
): Disposer[] {
  return [
    policy.events.on('injected', (e) =>
      add(EVENT_CHAOS_INJECTED, () => ({
        [ATTR_STURDY_POLICY_NAME]: e.name,
        [ATTR_STURDY_CHAOS_KIND]: e.kind,
        [ATTR_STURDY_CHAOS_SCOPE]: e.scope,
        [ATTR_STURDY_CHAOS_LATENCY_MS]: e.latencyMs,
      })),
    ),
  ]
}

/**
 * Hedging as span events: `sturdy.hedge` when a hedge starts (`sturdy.hedge.attempt`,
 * `.trigger`, `.delay_ms`), `sturdy.hedge.won` when a hedge answered
 * (`sturdy.hedge.attempt`, `.attempts`), `sturdy.hedge.budget_exhausted` when one was
 * not sent. The hedging timer is per call, so it runs in the call's context.
 */
export function hedgeEvents(
  policy: { readonly events: Events<HedgeEventMap> },
  add: AddEvent,
): Disposer[] {
  return [
    policy.events.on('hedge', (e) =>
      add(EVENT_HEDGE, () => ({
        [ATTR_STURDY_POLICY_NAME]: e.name,
        [ATTR_STURDY_HEDGE_ATTEMPT]: e.attempt,
        [ATTR_STURDY_HEDGE_TRIGGER]: e.trigger,
        [ATTR_STURDY_HEDGE_DELAY_MS]: e.delayMs,
      })),
    ),
    policy.events.on('hedgeWon', (e) =>
      add(EVENT_HEDGE_WON, () => ({
        [ATTR_STURDY_POLICY_NAME]: e.name,
        [ATTR_STURDY_HEDGE_ATTEMPT]: e.attempt,
        [ATTR_STURDY_HEDGE_ATTEMPTS]: e.attempts,
      })),
    ),
    policy.events.on('budgetExhausted', (e) =>
      add(EVENT_HEDGE_BUDGET_EXHAUSTED, () => ({
        [ATTR_STURDY_POLICY_NAME]: e.name,
        [ATTR_STURDY_HEDGE_ATTEMPT]: e.attempt,
      })),
    ),
  ]
}
