import type { ChaosMiddleware } from '@sturdy/chaos'
import { chaosAdmin, chaosMiddleware } from '@sturdy/chaos'
import type { Middleware } from '@sturdy/core'
import type { ServiceContext } from './service.ts'

/** A service's fault injection: middleware to mount after the deadline. */
export interface FaultInjection {
  middleware: readonly Middleware[]
  /** The faults, by kind: `<service>-errors` (503), `<service>-latency`, `<service>-hangs`. */
  controls: readonly ChaosMiddleware[]
}

/**
 * Fault injection (error rate, added latency, hangs) on `routes`, built on
 * `@sturdy/chaos`: every fault starts disabled at rate 0 and is steered at run time
 * through the admin (`/_chaos`, `@sturdy/chaos`'s protocol), which answers only when
 * `CHAOS_ADMIN` is on, behind `CHAOS_TOKEN` as a bearer token when one is set. Mounted
 * after the deadline, so a hang ends at the request's deadline.
 */
export function faultInjection(ctx: ServiceContext, routes: readonly string[]): FaultInjection {
  const common = { routes, enabled: false, injectionRate: 0 }
  const controls = [
    chaosMiddleware({ ...common, name: `${ctx.name}-hangs`, kind: 'hang' }),
    chaosMiddleware({ ...common, name: `${ctx.name}-errors`, kind: 'fault' }),
    chaosMiddleware({
      ...common,
      name: `${ctx.name}-latency`,
      kind: 'latency',
      latencyMs: { min: 100, max: 500 },
    }),
  ]
  ctx.observe(...controls)
  const token = ctx.config.chaos.token
  const admin = chaosAdmin({
    controls,
    enabled: ctx.config.chaos.admin,
    ...(token === undefined
      ? {}
      : { authorize: (req) => req.header('authorization') === `Bearer ${token}` }),
  })
  return { middleware: [admin, ...controls], controls }
}
