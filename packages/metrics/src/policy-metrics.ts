import type {
  BreakerEventMap,
  CircuitState,
  Disposer,
  Events,
  ObservablePolicy,
  RetryEventMap,
  TimeoutEventMap,
} from '@sturdy/core'
import { boundedLabel, OVERFLOW_VALUE } from './bounded-label.ts'
import { SEMCONV_DURATION_BUCKETS } from './buckets.ts'
import { observeChaos, observeHedge } from './chaos-hedge-metrics.ts'
import type { AnyRegistry } from './instruments.ts'
import { counterOn, gaugeOn, histogramOn, privateRegistry } from './instruments.ts'
import { observeLimit } from './limit-metrics.ts'
import { observeRateLimit } from './rate-limit-metrics.ts'

/**
 * The value `sturdy_breaker_state` takes per state, ordered by how much traffic the
 * breaker lets through: `> 0` means "not fully closed", `>= 2` means "rejecting".
 */
export const BREAKER_STATE_VALUES: Readonly<Record<CircuitState, number>> = Object.freeze({
  closed: 0,
  'half-open': 1,
  open: 2,
  isolated: 3,
})

/** Options of `policyMetrics`. */
export interface PolicyMetricsOptions {
  /** Where the metrics live. @default a new private `Registry`, exposed as `.registry` */
  registry?: AnyRegistry
  /**
   * How many distinct policy names get series of their own; later names share
   * `__other__` (keyed breakers name themselves after their key). @default 100
   */
  maxNames?: number
  /** Bucket boundaries (seconds) of the per-attempt latency histogram. @default SEMCONV_DURATION_BUCKETS */
  buckets?: readonly number[]
}

/** Subscribes policies to the metrics. */
export interface PolicyMetrics {
  /** The registry the metrics live in. */
  readonly registry: AnyRegistry
  /**
   * Records a policy's events until the returned disposer is called. The disposer also
   * drops the breaker state series of the names it saw, so a retired breaker does not
   * report a stale state forever.
   */
  observe(policy: ObservablePolicy): Disposer
}

/**
 * Prometheus metrics for timeout, retry, breaker, hedge, chaos, rate-limit and limit policies, fed by the core event maps
 * (so this package depends on none of the policy packages):
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `sturdy_breaker_state` | gauge (see `BREAKER_STATE_VALUES`) | `name` |
 * | `sturdy_breaker_transitions_total` | counter | `name`, `from`, `to` |
 * | `sturdy_breaker_calls_total` | counter | `name`, `outcome` = success, failure, rejected |
 * | `sturdy_retry_attempts_total` | counter | `name`, `outcome` = success, failure |
 * | `sturdy_retry_attempt_duration_seconds` | histogram | `name`, `outcome` |
 * | `sturdy_retry_giveups_total` | counter | `name`, `reason` |
 * | `sturdy_retry_budget_exhausted_total` | counter | `name` |
 * | `sturdy_timeouts_total` | counter | `name`, `scope` = policy, deadline |
 * | `sturdy_rate_limit_decisions_total` | counter | `name`, `outcome` = allowed, rejected |
 * | `sturdy_rate_limit_fallbacks_total` | counter | `name`, `reason` = timeout, error, unavailable |
 * | `sturdy_rate_limit_store_degraded` | gauge (1 while the fallback decides) | `name` |
 * | `sturdy_limit_concurrency_limit`, `sturdy_limit_inflight`, `sturdy_limit_queued` | gauges (`@sturdy/limit`; created when one is observed) | `name` |
 * | `sturdy_limit_shed_total` | counter | `name`, `reason`, `priority` |
 * | `sturdy_chaos_injections_total` | counter | `name`, `kind`, `scope` = policy, middleware |
 * | `sturdy_chaos_injection_rate` | gauge (0 when disabled) | `name` |
 * | `sturdy_hedges_total` | counter | `name`, `trigger` = delay, failure |
 * | `sturdy_hedge_wins_total` | counter | `name` |
 * | `sturdy_hedge_budget_exhausted_total` | counter | `name` |
 *
 * The rate-limit metrics are registered when the first rate limiter is observed, and
 * never carry the limited key.
 * @param options see `PolicyMetricsOptions`
 * @param options.registry @default a new private Registry
 * @param options.maxNames @default 100
 * @param options.buckets @default SEMCONV_DURATION_BUCKETS
 * @returns `{ registry, observe(policy) }`
 * @example
 * import { Registry } from 'prom-client'
 * import { policyMetrics } from '@sturdy/metrics'
 * import { circuitBreaker } from '@sturdy/breaker'
 *
 * const registry = new Registry()
 * const breaker = circuitBreaker({ name: 'payments' })
 * const stop = policyMetrics({ registry }).observe(breaker)
 * // ... later, when the breaker is retired:
 * stop()
 */
export function policyMetrics(options: PolicyMetricsOptions = {}): PolicyMetrics {
  const registry = options.registry ?? privateRegistry()
  const guardName = boundedLabel({ maxValues: options.maxNames ?? 100 })
  const breakerState = gaugeOn(registry, {
    name: 'sturdy_breaker_state',
    help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open, 3 isolated.',
    labelNames: ['name'],
    collect: refreshBreakerStates,
  })
  const transitions = counterOn(registry, {
    name: 'sturdy_breaker_transitions_total',
    help: 'Circuit breaker state transitions.',
    labelNames: ['name', 'from', 'to'],
  })
  const breakerCalls = counterOn(registry, {
    name: 'sturdy_breaker_calls_total',
    help: 'Calls through a circuit breaker, by outcome (rejected = failed fast).',
    labelNames: ['name', 'outcome'],
  })
  const attempts = counterOn(registry, {
    name: 'sturdy_retry_attempts_total',
    help: 'Attempts made by retry policies, by outcome.',
    labelNames: ['name', 'outcome'],
  })
  const attemptDuration = histogramOn(registry, {
    name: 'sturdy_retry_attempt_duration_seconds',
    help: 'Latency of single attempts made by retry policies.',
    labelNames: ['name', 'outcome'],
    buckets: options.buckets ?? SEMCONV_DURATION_BUCKETS,
    exemplars: false,
  })
  const giveUps = counterOn(registry, {
    name: 'sturdy_retry_giveups_total',
    help: 'Calls a retry policy stopped retrying, by reason.',
    labelNames: ['name', 'reason'],
  })
  const budgetExhausted = counterOn(registry, {
    name: 'sturdy_retry_budget_exhausted_total',
    help: 'Retries refused because the retry budget was exhausted.',
    labelNames: ['name'],
  })
  const timeouts = counterOn(registry, {
    name: 'sturdy_timeouts_total',
    help: 'Budgets that ran out, by scope (policy = per call, deadline = per request).',
    labelNames: ['name', 'scope'],
  })

  const name = (raw: string): string => guardName(raw) || OVERFLOW_VALUE

  // Per-call events (every breaker call, every retry attempt) go to cached labelled
  // children; names are bounded by the guard and outcomes are fixed, so the cache is too.
  const callChild = cached((label: string, outcome: string) =>
    breakerCalls.labels({ name: label, outcome }),
  )
  const attemptChild = cached((label: string, outcome: string) => {
    const labels = { name: label, outcome }
    const count = attempts.labels(labels)
    const latency = attemptDuration.labels(labels)
    return {
      record(seconds: number): void {
        count.inc()
        latency.observe(seconds)
      },
    }
  })

  const observeBreaker = (
    policy: { readonly name: string; readonly events: Events<BreakerEventMap> },
    seen: Set<string>,
  ): Disposer[] => {
    const setState = (raw: string, state: CircuitState): void => {
      const label = name(raw)
      // The state of "all other breakers together" means nothing: leave it out.
      if (label === OVERFLOW_VALUE && raw !== OVERFLOW_VALUE) return
      seen.add(label)
      breakerState.set({ name: label }, BREAKER_STATE_VALUES[state])
    }
    const dispose: Disposer[] = []
    // A breaker that exposes `state` (a single `circuitBreaker`, not a keyed set) gets its
    // series at once, and is re-read before each scrape: breakers move open → half-open
    // lazily, when asked, so without this the gauge would say "open" until the next call.
    if (hasState(policy)) {
      const own = name(policy.name)
      for (const outcome of ['success', 'failure', 'rejected']) {
        breakerCalls.inc({ name: own, outcome }, 0)
      }
      const refresh = (): void => setState(policy.name, policy.state)
      refresh()
      const refreshers = refreshersOf(breakerState)
      refreshers.add(refresh)
      dispose.push(() => refreshers.delete(refresh))
    }
    return [
      ...dispose,
      policy.events.on('stateChange', (e) => {
        transitions.inc({ name: name(e.name), from: e.from, to: e.to })
        setState(e.name, e.to)
      }),
      policy.events.on('success', (e) => callChild(name(e.name), 'success').inc()),
      policy.events.on('failure', (e) => callChild(name(e.name), 'failure').inc()),
      policy.events.on('rejected', (e) => callChild(name(e.name), 'rejected').inc()),
    ]
  }

  const observeRetry = (policy: {
    readonly name: string
    readonly events: Events<RetryEventMap>
  }): Disposer[] => {
    const own = name(policy.name)
    for (const outcome of ['success', 'failure']) attempts.inc({ name: own, outcome }, 0)
    budgetExhausted.inc({ name: own }, 0)
    return [
      policy.events.on('attemptEnd', (e) => {
        attemptChild(name(e.name), e.outcome).record(e.durationMs / 1000)
      }),
      policy.events.on('giveUp', (e) => giveUps.inc({ name: name(e.name), reason: e.reason })),
      policy.events.on('budgetExhausted', (e) => budgetExhausted.inc({ name: name(e.name) })),
    ]
  }

  const observeTimeout = (policy: {
    readonly name: string
    readonly events: Events<TimeoutEventMap>
  }): Disposer[] => {
    return [
      policy.events.on('timeout', (e) => timeouts.inc({ name: name(e.name), scope: e.scope })),
    ]
  }

  return {
    registry,
    observe(policy: ObservablePolicy): Disposer {
      const seen = new Set<string>()
      let disposers: Disposer[]
      switch (policy.kind) {
        case 'breaker':
          disposers = observeBreaker(policy, seen)
          break
        case 'retry':
          disposers = observeRetry(policy)
          break
        case 'timeout':
          disposers = observeTimeout(policy)
          break
        case 'rate-limit':
          disposers = observeRateLimit(registry, name, policy)
          break
        case 'limit':
          disposers = [observeLimit(registry, policy, name)]
          break
        case 'chaos':
          disposers = observeChaos(registry, name, policy)
          break
        case 'hedge':
          disposers = observeHedge(registry, name, policy)
          break
        default:
          throw new TypeError(`Unknown policy kind: ${(policy as { kind?: unknown }).kind}`)
      }
      let live = true
      return () => {
        if (!live) return
        live = false
        for (const dispose of disposers) dispose()
        for (const label of seen) breakerState.remove({ name: label })
      }
    },
  }
}

const STATES: ReadonlySet<string> = new Set(Object.keys(BREAKER_STATE_VALUES))

/** Memoizes `make` per (name, outcome) pair, without building a key string. */
function cached<T>(
  make: (name: string, outcome: string) => T,
): (name: string, outcome: string) => T {
  const byName = new Map<string, Map<string, T>>()
  return (name, outcome) => {
    let byOutcome = byName.get(name)
    if (byOutcome === undefined) {
      byOutcome = new Map()
      byName.set(name, byOutcome)
    }
    let child = byOutcome.get(outcome)
    if (child === undefined) {
      child = make(name, outcome)
      byOutcome.set(outcome, child)
    }
    return child
  }
}

function hasState<P extends object>(policy: P): policy is P & { readonly state: CircuitState } {
  const state = (policy as { state?: unknown }).state
  return typeof state === 'string' && STATES.has(state)
}

/**
 * The gauge is shared by every `policyMetrics` on a registry (see `gaugeOn`), so the
 * breakers to re-read before a scrape hang off the gauge itself, not off one instance.
 */
const REFRESHERS: unique symbol = Symbol.for('@sturdy/metrics breaker refreshers') as never

type WithRefreshers = object & { [REFRESHERS]?: Set<() => void> }

function refreshersOf(gauge: object): Set<() => void> {
  const holder = gauge as WithRefreshers
  let set = holder[REFRESHERS]
  if (set === undefined) {
    set = new Set()
    holder[REFRESHERS] = set
  }
  return set
}

function refreshBreakerStates(this: object): void {
  const set = (this as WithRefreshers)[REFRESHERS]
  if (set === undefined) return
  for (const refresh of set) refresh()
}
