import type { ChaosEventMap, Disposer, Events, HedgeEventMap } from '@sturdy/core'
import type { AnyRegistry } from './instruments.ts'
import { counterOn, gaugeOn } from './instruments.ts'

/** A chaos policy or middleware as the metrics see it; `settings` when it has them. */
interface ChaosSource {
  readonly name: string
  readonly events: Events<ChaosEventMap>
  readonly settings?: () => { readonly enabled: boolean; readonly injectionRate: number }
}

/**
 * `sturdy_chaos_injections_total{name, kind, scope}` counts injected faults, and
 * `sturdy_chaos_injection_rate{name}` shows the rate in force (0 when disabled), so a
 * dashboard tells a drill from an outage at a glance.
 *
 * @param registry where the metrics live
 * @param label bounds a policy name to a label value
 * @param policy the chaos to observe
 * @returns disposers; the last one drops the rate series
 */
export function observeChaos(
  registry: AnyRegistry,
  label: (raw: string) => string,
  policy: ChaosSource,
): Disposer[] {
  const injections = counterOn(registry, {
    name: 'sturdy_chaos_injections_total',
    help: 'Faults injected on purpose by @sturdy/chaos (drills, not outages), by kind.',
    labelNames: ['name', 'kind', 'scope'],
  })
  const rate = gaugeOn(registry, {
    name: 'sturdy_chaos_injection_rate',
    help: 'The injection rate in force per chaos policy or middleware; 0 when disabled.',
    labelNames: ['name'],
  })
  const own = label(policy.name)
  const settings = readSettings(policy)
  if (settings !== undefined) rate.set({ name: own }, settings.enabled ? settings.injectionRate : 0)
  return [
    policy.events.on('injected', (e) =>
      injections.inc({ name: label(e.name), kind: e.kind, scope: e.scope }),
    ),
    policy.events.on('changed', (e) =>
      rate.set({ name: label(e.name) }, e.enabled ? e.injectionRate : 0),
    ),
    () => rate.remove({ name: own }),
  ]
}

/**
 * `sturdy_hedges_total{name, trigger}` (hedges sent, after a delay or a failure),
 * `sturdy_hedge_wins_total{name}` (a hedge gave the answer) and
 * `sturdy_hedge_budget_exhausted_total{name}` (hedges not sent for want of budget).
 *
 * @param registry where the metrics live
 * @param label bounds a policy name to a label value
 * @param policy the hedging policy to observe
 * @returns disposers
 */
export function observeHedge(
  registry: AnyRegistry,
  label: (raw: string) => string,
  policy: { readonly name: string; readonly events: Events<HedgeEventMap> },
): Disposer[] {
  const hedges = counterOn(registry, {
    name: 'sturdy_hedges_total',
    help: 'Hedged attempts sent, by trigger (delay: no answer in time; failure: an attempt failed).',
    labelNames: ['name', 'trigger'],
  })
  const wins = counterOn(registry, {
    name: 'sturdy_hedge_wins_total',
    help: 'Calls answered by a hedged attempt rather than the first.',
    labelNames: ['name'],
  })
  const exhausted = counterOn(registry, {
    name: 'sturdy_hedge_budget_exhausted_total',
    help: 'Hedges not sent because the retry budget was exhausted.',
    labelNames: ['name'],
  })
  const own = label(policy.name)
  for (const trigger of ['delay', 'failure']) hedges.inc({ name: own, trigger }, 0)
  wins.inc({ name: own }, 0)
  exhausted.inc({ name: own }, 0)
  return [
    policy.events.on('hedge', (e) => hedges.inc({ name: label(e.name), trigger: e.trigger })),
    policy.events.on('hedgeWon', (e) => wins.inc({ name: label(e.name) })),
    policy.events.on('budgetExhausted', (e) => exhausted.inc({ name: label(e.name) })),
  ]
}

function readSettings(
  policy: ChaosSource,
): { readonly enabled: boolean; readonly injectionRate: number } | undefined {
  if (typeof policy.settings !== 'function') return undefined
  try {
    return policy.settings()
  } catch {
    return undefined
  }
}
