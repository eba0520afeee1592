import type { Disposer, Events, RateLimitEventMap } from '@sturdy/core'
import type { AnyRegistry } from './instruments.ts'
import { counterOn, gaugeOn } from './instruments.ts'

/**
 * The `sturdy_rate_limit_*` metrics of one rate limiter (`@sturdy/rate-limit`), created on
 * the registry when the first limiter is observed:
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `sturdy_rate_limit_decisions_total` | counter | `name`, `outcome` = allowed, rejected |
 * | `sturdy_rate_limit_fallbacks_total` | counter | `name`, `reason` = timeout, error, unavailable |
 * | `sturdy_rate_limit_store_degraded` | gauge: 1 while the fallback decides, else 0 | `name` |
 *
 * The limited key (a client address, an API key) is never a label.
 *
 * @param registry where the metrics live
 * @param label bounds a limiter name to a label value
 * @param policy the limiter (or its middleware / policy)
 * @returns disposers that unsubscribe and drop the gauge series of the names seen
 */
export function observeRateLimit(
  registry: AnyRegistry,
  label: (raw: string) => string,
  policy: { readonly name: string; readonly events: Events<RateLimitEventMap> },
): Disposer[] {
  const decisions = counterOn(registry, {
    name: 'sturdy_rate_limit_decisions_total',
    help: 'Rate-limit decisions, by outcome (rejected = answered 429 / RateLimitedError).',
    labelNames: ['name', 'outcome'],
  })
  const fallbacks = counterOn(registry, {
    name: 'sturdy_rate_limit_fallbacks_total',
    help: 'Rate-limit decisions the fallback made because the shared store timed out, failed or was down.',
    labelNames: ['name', 'reason'],
  })
  const degraded = gaugeOn(registry, {
    name: 'sturdy_rate_limit_store_degraded',
    help: 'Whether a rate limiter is deciding by its fallback (1) or by its store (0).',
    labelNames: ['name'],
  })
  const seen = new Set<string>()
  // Per-request events go to cached children: names are bounded by `label`, outcomes fixed.
  const children = new Map<string, { allowed: { inc(): void }; rejected: { inc(): void } }>()
  const child = (raw: string) => {
    const name = label(raw)
    let c = children.get(name)
    if (c === undefined) {
      c = {
        allowed: decisions.labels({ name, outcome: 'allowed' }),
        rejected: decisions.labels({ name, outcome: 'rejected' }),
      }
      children.set(name, c)
    }
    return c
  }
  const setDegraded = (raw: string, value: number): void => {
    const name = label(raw)
    seen.add(name)
    degraded.set({ name }, value)
  }
  return [
    policy.events.on('allowed', (e) => child(e.name).allowed.inc()),
    policy.events.on('rejected', (e) => child(e.name).rejected.inc()),
    policy.events.on('fallback', (e) => {
      fallbacks.inc({ name: label(e.name), reason: e.reason })
      setDegraded(e.name, 1)
    }),
    policy.events.on('recovered', (e) => setDegraded(e.name, 0)),
    () => {
      for (const name of seen) degraded.remove({ name })
    },
  ]
}
