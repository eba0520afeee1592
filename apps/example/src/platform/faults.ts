import type { Middleware } from '@sturdy/core'
import type { ServiceContext } from './service.ts'

/** A service's fault injection: middleware to mount after the deadline. */
export interface FaultInjection {
  middleware: readonly Middleware[]
}

/**
 * Fault injection (error rate, added latency, hangs) on `routes`, steered at run time
 * through an admin endpoint that is off unless `CHAOS_ADMIN` is on. Built on
 * `@sturdy/chaos` once it lands on main; until then, nothing is injected.
 */
export function faultInjection(_ctx: ServiceContext, _routes: readonly string[]): FaultInjection {
  return { middleware: [] }
}
