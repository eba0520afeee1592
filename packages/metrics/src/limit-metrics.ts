import type { Disposer, Events, LimitEventMap, LimitStats, ShedReason } from '@sturdy/core'
import type { Counter, Gauge } from 'prom-client'
import { OVERFLOW_VALUE } from './bounded-label.ts'
import type { AnyRegistry } from './instruments.ts'
import { counterOn, gaugeOn } from './instruments.ts'

/** A concurrency limiter or adaptive throttle, as the core `ObservablePolicy` describes it. */
export interface ObservableLimit {
  readonly name: string
  readonly events: Events<LimitEventMap>
  readonly stats?: () => LimitStats
}

/**
 * The `sturdy_limit_*` metrics of `@sturdy/limit`'s limiters, created on the registry
 * the first time a limiter is observed (registries without one stay as they were):
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `sturdy_limit_concurrency_limit` | gauge, read at scrape time | `name` |
 * | `sturdy_limit_inflight` | gauge, read at scrape time | `name` |
 * | `sturdy_limit_queued` | gauge, read at scrape time | `name` |
 * | `sturdy_limit_shed_total` | counter | `name`, `reason`, `priority` |
 *
 * A throttle has no limit, so it has no `sturdy_limit_concurrency_limit` series.
 */
export function observeLimit(
  registry: AnyRegistry,
  policy: ObservableLimit,
  label: (raw: string) => string,
): Disposer {
  const m = limitInstruments(registry)
  const own = label(policy.name)
  const shedChild = new Map<LimitEventMap['shed'], ReturnType<Counter['labels']>>()
  const dispose: Disposer[] = [
    policy.events.on('shed', (e) => {
      // Payloads are shared per name/reason/priority, so they key the child cache.
      let child = shedChild.get(e)
      if (child === undefined) {
        child = m.shed.labels({ name: label(e.name), reason: e.reason, priority: e.priority })
        shedChild.set(e, child)
      }
      child.inc()
    }),
  ]
  // "All other limiters together" has no meaningful limit or in-flight count.
  if (policy.stats !== undefined && own !== OVERFLOW_VALUE) {
    const refresh = (): void => {
      const s = (policy.stats as () => LimitStats).call(policy)
      if (Number.isFinite(s.limit)) m.limit.set({ name: own }, s.limit)
      m.inflight.set({ name: own }, s.inflight)
      m.queued.set({ name: own }, s.queued)
    }
    refresh()
    m.refreshers.add(refresh)
    dispose.push(() => {
      m.refreshers.delete(refresh)
      m.limit.remove({ name: own })
      m.inflight.remove({ name: own })
      m.queued.remove({ name: own })
    })
  }
  if (own !== OVERFLOW_VALUE) {
    for (const reason of SHED_REASONS) m.shed.inc({ name: own, reason, priority: 'normal' }, 0)
  }
  return () => {
    for (const d of dispose) d()
  }
}

const SHED_REASONS: readonly ShedReason[] = ['limit', 'deadline']

interface LimitInstruments {
  readonly limit: Gauge
  readonly inflight: Gauge
  readonly queued: Gauge
  readonly shed: Counter
  readonly refreshers: Set<() => void>
}

const INSTRUMENTS: unique symbol = Symbol.for('@sturdy/metrics limit instruments') as never

type Holder = AnyRegistry & { [INSTRUMENTS]?: LimitInstruments }

/** One set of instruments per registry; every observer on it shares them and their refreshers. */
function limitInstruments(registry: AnyRegistry): LimitInstruments {
  const holder = registry as Holder
  const existing = holder[INSTRUMENTS]
  if (existing !== undefined) return existing
  const refreshers = new Set<() => void>()
  const refreshAll = (): void => {
    for (const refresh of refreshers) refresh()
  }
  // Each gauge refreshes all three before it is read: cheap, and right whatever order
  // (or subset) a scrape reads them in.
  const instruments: LimitInstruments = {
    limit: gaugeOn(registry, {
      name: 'sturdy_limit_concurrency_limit',
      help: 'Concurrency limit of a limiter now (adaptive limits move with latency).',
      labelNames: ['name'],
      collect: refreshAll,
    }),
    inflight: gaugeOn(registry, {
      name: 'sturdy_limit_inflight',
      help: 'Work admitted by a limiter and not finished.',
      labelNames: ['name'],
      collect: refreshAll,
    }),
    queued: gaugeOn(registry, {
      name: 'sturdy_limit_queued',
      help: 'Work waiting in a limiter queue.',
      labelNames: ['name'],
      collect: refreshAll,
    }),
    shed: counterOn(registry, {
      name: 'sturdy_limit_shed_total',
      help: 'Work refused without running, by reason (limit, queue-full, queue-timeout, deadline, throttled) and priority.',
      labelNames: ['name', 'reason', 'priority'],
    }),
    refreshers,
  }
  holder[INSTRUMENTS] = instruments
  return instruments
}
