import { createHash, timingSafeEqual } from 'node:crypto'
import type { ChaosMiddleware } from '@sturdy/chaos'
import { chaosAdmin, chaosMiddleware } from '@sturdy/chaos'
import type { Middleware } from '@sturdy/core'
import type { ServiceContext } from './service.ts'

/** A service's fault injection: middleware to mount after the deadline, and its controls. */
export interface FaultInjection {
  /** The admin (answers under `/_chaos` when `CHAOS_ADMIN` is on), then the faults. */
  middleware: readonly Middleware[]
  /** `<service>-errors`, `<service>-latency` and `<service>-hang`, all off at start. */
  controls: readonly ChaosMiddleware[]
}

/** Where the admin answers, on the service's own port. */
export const CHAOS_PATH = '/_chaos'

/**
 * Fault injection on `routes`, built on `@sturdy/chaos`: three controls per service, all
 * disabled at start and injecting into every request in scope once enabled (the admin
 * lowers `injection-rate` for a partial outage):
 *
 * - `<service>-errors`: answers 503 problem+json `CHAOS_FAULT` without running the handler
 *   (nothing happened — the gateway's client may retry it);
 * - `<service>-latency`: waits 1500 ms (settable) before the handler; a deadline that
 *   fires meanwhile answers 504 and the handler never runs;
 * - `<service>-hang`: never answers until the request's deadline (or the caller) ends it.
 *
 * The admin (`GET/PUT /_chaos/...`, see the app README) is off unless `CHAOS_ADMIN` is on;
 * with `CHAOS_TOKEN` set it asks for `Authorization: Bearer <token>`. It is mounted after
 * the deadline, so its own requests are traced, logged and counted like any other.
 * Injections show as `x-sturdy-chaos` response headers, `chaos` on access lines, a span
 * attribute and `sturdy_chaos_injections_total`.
 */
export function faultInjection(ctx: ServiceContext, routes: readonly string[]): FaultInjection {
  const name = ctx.name
  const controls = [
    chaosMiddleware({
      name: `${name}-errors`,
      kind: 'fault',
      routes,
      injectionRate: 1,
      enabled: false,
    }),
    chaosMiddleware({
      name: `${name}-latency`,
      kind: 'latency',
      latencyMs: 1500,
      routes,
      injectionRate: 1,
      enabled: false,
    }),
    chaosMiddleware({
      name: `${name}-hang`,
      kind: 'hang',
      routes,
      injectionRate: 1,
      enabled: false,
    }),
  ]
  ctx.observe(...controls)
  const token = ctx.config.chaos.token
  const admin = chaosAdmin({
    controls,
    enabled: ctx.config.chaos.admin,
    path: CHAOS_PATH,
    ...(token === undefined
      ? {}
      : { authorize: (req) => bearerIs(req.header('authorization'), token) }),
  })
  if (ctx.config.chaos.admin) {
    ctx.log.warn(
      { path: CHAOS_PATH, controls: controls.map((c) => c.name), token: token !== undefined },
      'chaos admin enabled',
    )
  }
  return { middleware: [admin, ...controls], controls }
}

/** Whether `header` is `Bearer <token>`, compared in constant time (digests of equal length). */
function bearerIs(header: string | undefined, token: string): boolean {
  if (header === undefined) return false
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(header), digest(`Bearer ${token}`))
}
