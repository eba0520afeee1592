import type { RuntimeName } from './config.ts'
import type { ClientResults } from './parts/client.ts'
import type { Unmeasured } from './parts/context.ts'
import type { HttpResults } from './parts/http.ts'
import type { MetricsResults } from './parts/metrics.ts'
import type { OverloadResults } from './parts/overload.ts'
import type { PolicyPath, PolicyResults } from './parts/policies.ts'
import type { RateLimitResults } from './parts/rate-limit.ts'
import type { SoakResults } from './parts/soak.ts'
import { type Better, type Ratio, ratioOf, round, type Summary } from './stats.ts'

/** One part's results with the time and settings they were measured with. */
export interface PartRecord<T> {
  readonly measuredAt: string
  readonly settings: Readonly<Record<string, unknown>>
  readonly results: T
}

/** Everything `results/latest.json` holds besides the ratios. */
export interface Measurements {
  http?: PartRecord<HttpResults>
  policies?: PartRecord<PolicyResults>
  client?: PartRecord<ClientResults>
  metrics?: PartRecord<MetricsResults>
  soak?: PartRecord<SoakResults>
  'rate-limit'?: PartRecord<RateLimitResults>
  overload?: PartRecord<OverloadResults | Unmeasured>
}

/** A ratio, or why there is none. */
export type RatioOutcome = { ratio: Ratio } | { reason: string }

/** A headline ratio of the issue, how it is computed and its target. */
export interface RatioDef {
  readonly key: string
  readonly describe: string
  /** `>= x` for throughput-like ratios, `<= x` for memory; per runtime where they differ. */
  readonly target?: Partial<Record<RuntimeName, { op: '>=' | '<='; value: number }>>
  compute(m: Measurements, runtime: RuntimeName): RatioOutcome
  /**
   * The same comparison from server CPU time per request (other / sturdy), for HTTP
   * throughput ratios: a cross-check that other processes on the machine move far less.
   */
  cpu?(m: Measurements, runtime: RuntimeName): RatioOutcome
}

type Picked = { summary: Summary } | { reason: string }

/** The per-contender HTTP figures a ratio can compare. */
type HttpFigure = 'reqPerSec' | 'rssMb' | 'cpuUsPerReq' | 'p99Ms'

function httpFigure(
  m: Measurements,
  runtime: RuntimeName,
  name: string,
  figure: HttpFigure,
): Picked {
  const part = m.http?.results[runtime]
  if (part === undefined) return { reason: `HTTP part not run on ${runtime}` }
  const r = part[name]
  if (r === undefined) return { reason: `${name} not run on ${runtime}` }
  if (r.status === 'null') return { reason: `${name}: ${r.reason}` }
  if (r.missing.length > 0) return { reason: `${name} is incomplete: ${r.missing.join('; ')}` }
  if (r.errors > 0) return { reason: `${name} answered ${r.errors} errors (non-2xx or socket)` }
  if (figure === 'rssMb')
    return { summary: { median: r.rssMb, min: r.rssMb, max: r.rssMb, samples: [r.rssMb] } }
  if (figure === 'cpuUsPerReq' || figure === 'p99Ms') {
    const summary = r[figure]
    return summary === undefined ? { reason: `${name}: no ${figure} figure` } : { summary }
  }
  return { summary: r.reqPerSec }
}

function policyFigure(
  m: Measurements,
  runtime: RuntimeName,
  name: string,
  path: PolicyPath = 'success',
): Picked {
  const part = m.policies?.results[runtime]
  if (part === undefined) return { reason: `policies part not run on ${runtime}` }
  const r = part[path]?.[name]
  if (r === undefined) return { reason: `${name} not run on the ${path} path` }
  if (r.status === 'null') return { reason: `${name}: ${r.reason}` }
  return { summary: r.nsPerOp }
}

function clientFigure(m: Measurements, runtime: RuntimeName, name: string): Picked {
  const part = m.client?.results[runtime]
  if (part === undefined) return { reason: `client part not run on ${runtime}` }
  const r = part[name]
  if (r === undefined) return { reason: `${name} not run` }
  if (r.status === 'null') return { reason: `${name}: ${r.reason}` }
  if (r.errors > 0) return { reason: `${name} had ${r.errors} failed requests` }
  return { summary: r.reqPerSec }
}

/** Combines two picked figures into a ratio (see `ratioOf` for orientation). */
export function combine(
  sturdy: Picked,
  other: Picked,
  orientation: Better | 'plain',
): RatioOutcome {
  if ('reason' in sturdy) return { reason: sturdy.reason }
  if ('reason' in other) return { reason: other.reason }
  const ratio = ratioOf(sturdy.summary, other.summary, orientation)
  return ratio === undefined ? { reason: 'no comparable samples' } : { ratio }
}

/** req/s as sturdy / other; RSS and p99 as a plain sturdy / other (lower is better). */
const http =
  (a: string, b: string, figure: 'reqPerSec' | 'rssMb' | 'p99Ms' = 'reqPerSec') =>
  (m: Measurements, rt: RuntimeName): RatioOutcome =>
    combine(
      httpFigure(m, rt, a, figure),
      httpFigure(m, rt, b, figure),
      figure === 'reqPerSec' ? 'higher' : 'plain',
    )

const httpCpu =
  (a: string, b: string) =>
  (m: Measurements, rt: RuntimeName): RatioOutcome =>
    combine(httpFigure(m, rt, a, 'cpuUsPerReq'), httpFigure(m, rt, b, 'cpuUsPerReq'), 'lower')

const policy =
  (a: string, b: string, path: PolicyPath = 'success') =>
  (m: Measurements, rt: RuntimeName): RatioOutcome =>
    combine(policyFigure(m, rt, a, path), policyFigure(m, rt, b, path), 'lower')

const client =
  (a: string, b: string) =>
  (m: Measurements, rt: RuntimeName): RatioOutcome =>
    combine(clientFigure(m, rt, a), clientFigure(m, rt, b), 'higher')

const both = (op: '>=' | '<=', value: number) => ({ node20: { op, value }, node24: { op, value } })

/**
 * The headline ratios with the targets of issue 23 (performance, round 2), then the ones
 * that explain them. A ratio without a target is reported, not judged.
 */
export const RATIOS: readonly RatioDef[] = [
  {
    key: 'sturdy_hono_stack_vs_bare_hono',
    describe: 'req/s, Hono + full Sturdy stack / bare Hono',
    target: { node24: { op: '>=', value: 0.5 }, node20: { op: '>=', value: 0.4 } },
    compute: http('sturdy-hono-stack', 'bare-hono'),
    cpu: httpCpu('sturdy-hono-stack', 'bare-hono'),
  },
  {
    key: 'sturdy_hono_stack_vs_anchor_hono_stack',
    describe: 'req/s, Hono + full Sturdy stack / Hono + anchor stack',
    compute: http('sturdy-hono-stack', 'anchor-hono-stack'),
    cpu: httpCpu('sturdy-hono-stack', 'anchor-hono-stack'),
  },
  {
    key: 'sturdy_express_vs_anchor_express_stack',
    describe: 'req/s, Express + Sturdy / Express + pino-http + express-prom-bundle',
    target: both('>=', 1.3),
    compute: http('express-sturdy', 'express-anchor-stack'),
    cpu: httpCpu('express-sturdy', 'express-anchor-stack'),
  },
  {
    key: 'policies_vs_cockatiel',
    describe: 'success path, cockatiel wrap ns/op / Sturdy composed ns/op',
    target: both('>=', 10),
    compute: policy('sturdy-composed', 'cockatiel-wrap'),
  },
  {
    key: 'policies_vs_opossum',
    describe: 'success path, opossum fire ns/op / Sturdy composed ns/op',
    target: both('>=', 2),
    compute: policy('sturdy-composed', 'opossum-fire'),
  },
  {
    key: 'breaker_open_reject_vs_opossum',
    describe: 'open circuit, opossum fire ns/op / Sturdy circuitBreaker execute ns/op (rejected)',
    target: both('>=', 1),
    compute: policy('sturdy-breaker', 'opossum-fire', 'open'),
  },
  {
    key: 'breaker_open_reject_vs_cockatiel',
    describe:
      'open circuit, cockatiel circuitBreaker ns/op / Sturdy circuitBreaker ns/op (rejected)',
    target: both('>=', 1),
    compute: policy('sturdy-breaker', 'cockatiel-breaker', 'open'),
  },
  {
    key: 'client_vs_undici_pool',
    describe: 'req/s, Sturdy client (all policies) / raw undici Pool',
    target: both('>=', 0.9),
    compute: client('sturdy-client', 'undici-pool'),
  },
  {
    key: 'client_vs_fetch',
    describe: 'req/s, Sturdy client / global fetch',
    target: both('>=', 5),
    compute: client('sturdy-client', 'fetch'),
  },
  {
    key: 'rss_sturdy_stack_vs_anchor_hono_stack',
    describe: 'RSS after the HTTP run, Sturdy stack / anchor stack (lower is better)',
    target: both('<=', 0.75),
    compute: http('sturdy-hono-stack', 'anchor-hono-stack', 'rssMb'),
  },
  {
    key: 'p99_sturdy_stack_vs_anchor_hono_stack',
    describe:
      'p99 latency at saturation (--connections in flight), Sturdy stack / anchor stack (lower is better)',
    target: both('<=', 0.6),
    compute: http('sturdy-hono-stack', 'anchor-hono-stack', 'p99Ms'),
  },
  {
    key: 'sturdy_fastify_vs_anchor_fastify_stack',
    describe: 'req/s, Fastify + Sturdy / Fastify + logger + fastify-metrics',
    target: both('>=', 1.3),
    compute: http('fastify-sturdy', 'fastify-anchor-stack'),
    cpu: httpCpu('fastify-sturdy', 'fastify-anchor-stack'),
  },
  {
    key: 'sturdy_logger_vs_hono_pino',
    describe: 'req/s, @sturdy/logger alone / hono/request-id + hono-pino',
    target: both('>=', 1),
    compute: http('sturdy-hono-logger', 'anchor-hono-logger'),
    cpu: httpCpu('sturdy-hono-logger', 'anchor-hono-logger'),
  },
  {
    key: 'sturdy_metrics_vs_hono_prometheus',
    describe: 'req/s, @sturdy/metrics alone / @hono/prometheus',
    target: both('>=', 1),
    compute: http('sturdy-hono-metrics', 'anchor-hono-metrics'),
    cpu: httpCpu('sturdy-hono-metrics', 'anchor-hono-metrics'),
  },
  {
    key: 'sturdy_tracing_vs_hono_otel',
    describe: 'req/s, @sturdy/tracing alone / @hono/otel',
    target: both('>=', 1),
    compute: http('sturdy-hono-tracing', 'anchor-hono-tracing'),
    cpu: httpCpu('sturdy-hono-tracing', 'anchor-hono-tracing'),
  },
  {
    key: 'sturdy_deadline_vs_hono_timeout',
    describe: 'req/s, @sturdy/timeout deadline() / hono/timeout',
    target: both('>=', 1),
    compute: http('sturdy-hono-deadline', 'anchor-hono-deadline'),
    cpu: httpCpu('sturdy-hono-deadline', 'anchor-hono-deadline'),
  },
  {
    // No anchor tracks requests in flight inside the app; the floor is one empty middleware.
    key: 'sturdy_lifecycle_vs_empty_mw',
    describe: 'req/s, @sturdy/lifecycle middleware() / one empty Hono middleware',
    compute: http('sturdy-hono-lifecycle', 'hono-empty-mw'),
    cpu: httpCpu('sturdy-hono-lifecycle', 'hono-empty-mw'),
  },
]

/** Reference ratios between non-Sturdy contenders: they show the measurement is sane. */
export const REFERENCE_RATIOS: readonly RatioDef[] = [
  { key: 'bare_node_vs_bare_hono', describe: 'req/s', compute: http('bare-node', 'bare-hono') },
  {
    key: 'anchor_hono_stack_vs_bare_hono',
    describe: 'req/s',
    compute: http('anchor-hono-stack', 'bare-hono'),
    cpu: httpCpu('anchor-hono-stack', 'bare-hono'),
  },
  {
    key: 'empty_mw_als_vs_bare_hono',
    describe: 'req/s, empty middleware with the SDK (ALS) on',
    compute: http('hono-empty-mw-als', 'bare-hono'),
    cpu: httpCpu('hono-empty-mw-als', 'bare-hono'),
  },
  { key: 'empty_mw_vs_bare_hono', describe: 'req/s', compute: http('hono-empty-mw', 'bare-hono') },
  {
    // The practical ceiling: the same work as the full stack, hand-written on node:http.
    key: 'node_stack_vs_bare_hono',
    describe: 'req/s, hand-written full stack on raw node:http / bare Hono',
    compute: http('node-stack', 'bare-hono'),
    cpu: httpCpu('node-stack', 'bare-hono'),
  },
  {
    // The same work as one hand-written Hono middleware: what any middleware on Hono can reach.
    key: 'hono_handwritten_stack_vs_bare_hono',
    describe: 'req/s, the full stack hand-written as one Hono middleware / bare Hono',
    compute: http('hono-handwritten-stack', 'bare-hono'),
    cpu: httpCpu('hono-handwritten-stack', 'bare-hono'),
  },
  {
    key: 'sturdy_hono_stack_vs_hono_handwritten_stack',
    describe: 'req/s, Hono + full Sturdy stack / the same work hand-written as one Hono middleware',
    compute: http('sturdy-hono-stack', 'hono-handwritten-stack'),
    cpu: httpCpu('sturdy-hono-stack', 'hono-handwritten-stack'),
  },
  {
    key: 'sturdy_hono_stack_vs_node_stack',
    describe: 'req/s, Hono + full Sturdy stack / the hand-written node:http stack',
    compute: http('sturdy-hono-stack', 'node-stack'),
    cpu: httpCpu('sturdy-hono-stack', 'node-stack'),
  },
  { key: 'fetch_vs_undici_pool', describe: 'req/s', compute: client('fetch', 'undici-pool') },
]

/** The ratio block of latest.json for one runtime: value (or null) per key, and details. */
export function ratiosFor(
  defs: readonly RatioDef[],
  m: Measurements,
  runtime: RuntimeName,
): { values: Record<string, number | null>; details: Record<string, unknown> } {
  const values: Record<string, number | null> = {}
  const details: Record<string, unknown> = {}
  for (const def of defs) {
    const outcome = def.compute(m, runtime)
    const target = def.target?.[runtime]
    const cpu = def.cpu?.(m, runtime)
    const cpuRatio = cpu !== undefined && 'ratio' in cpu ? { cpuRatio: round(cpu.ratio.value) } : {}
    if ('ratio' in outcome) {
      const r = outcome.ratio
      values[def.key] = round(r.value)
      details[def.key] = {
        value: round(r.value),
        min: round(r.min),
        max: round(r.max),
        method: r.method,
        ...cpuRatio,
        describe: def.describe,
        ...(target === undefined
          ? {}
          : {
              target: `${target.op} ${target.value}`,
              met: target.op === '>=' ? r.value >= target.value : r.value <= target.value,
            }),
      }
    } else {
      values[def.key] = null
      details[def.key] = {
        value: null,
        reason: outcome.reason,
        describe: def.describe,
        ...(target === undefined ? {} : { target: `${target.op} ${target.value}`, met: null }),
      }
    }
  }
  return { values, details }
}
