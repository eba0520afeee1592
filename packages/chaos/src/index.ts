/**
 * @module
 * `@sturdy/chaos`: fault injection on purpose, for tests, demos and game days, modelled
 * on Polly's chaos strategies. Five kinds — fault, latency, outcome, hang, behaviour — as
 * core policies (`chaosFault()` ... inside `compose()`) and as route-scoped server
 * middleware (`chaosMiddleware()`), each with an injection rate, a run-time switch and
 * seeded randomness through core's `random` seam. `chaosAdmin()` /
 * `chaosAdminHandler()` read and change the settings at run time (off by default).
 * Injections are marked — response header, `VALUES.chaos` on the exchange, `injected`
 * events for `@sturdy/metrics`, `@sturdy/tracing` and `@sturdy/logger` — so a drill is
 * never mistaken for an outage. Runtime-neutral: web-standard APIs only.
 *
 * @example
 * import { compose } from '@sturdy/core'
 * import { chaosLatency } from '@sturdy/chaos'
 *
 * const slow = chaosLatency({ name: 'db-slow', injectionRate: 0.1, latencyMs: 300 })
 * const policy = compose(slow)
 * await policy.execute(async () => 'row')
 * slow.update({ enabled: false })
 */
export type { AdminRequest, ChaosAdminOptions } from './admin.ts'
export { chaosAdmin, chaosAdminHandler } from './admin.ts'
export type {
  ChaosBehaviourOptions,
  ChaosFaultOptions,
  ChaosLatencyOptions,
  ChaosOutcomeOptions,
  ChaosPolicy,
} from './chaos-policy.ts'
export {
  chaosBehaviour,
  chaosFault,
  chaosHang,
  chaosLatency,
  chaosOutcome,
} from './chaos-policy.ts'
export type {
  ChaosControl,
  ChaosOptions,
  ChaosPatch,
  ChaosSettings,
  LatencySpec,
} from './control.ts'
export { DEFAULT_INJECTION_RATE } from './control.ts'
export { InjectedFaultError, isInjectedFaultError } from './errors.ts'
export type {
  ChaosMiddleware,
  ChaosMiddlewareBase,
  ChaosMiddlewareOptions,
  ChaosResponse,
} from './middleware.ts'
export { CHAOS_HEADER, chaosMiddleware } from './middleware.ts'
