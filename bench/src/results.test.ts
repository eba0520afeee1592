import { describe, expect, it } from 'vitest'
import type { HttpResult } from './parts/http.ts'
import { type Measurements, RATIOS, REFERENCE_RATIOS, ratiosFor } from './results.ts'
import { summarize } from './stats.ts'

const REQUIRED = [
  'sturdy_hono_stack_vs_bare_hono',
  'sturdy_hono_stack_vs_anchor_hono_stack',
  'sturdy_express_vs_anchor_express_stack',
  'policies_vs_cockatiel',
  'policies_vs_opossum',
  'client_vs_undici_pool',
  'client_vs_fetch',
  'rss_sturdy_stack_vs_anchor_hono_stack',
  'p99_sturdy_stack_vs_anchor_hono_stack',
  'breaker_open_reject_vs_opossum',
  'breaker_open_reject_vs_cockatiel',
  'sturdy_fastify_vs_anchor_fastify_stack',
  'sturdy_logger_vs_hono_pino',
  'sturdy_metrics_vs_hono_prometheus',
  'sturdy_tracing_vs_hono_otel',
  'sturdy_deadline_vs_hono_timeout',
]

function server(
  rps: number[],
  rssMb: number,
  missing: string[] = [],
  errors = 0,
  cpuUs?: number[],
  p99Ms?: number[],
): HttpResult {
  return {
    status: 'ok',
    label: 'x',
    stack: [],
    missing,
    reqPerSec: summarize(rps)!,
    p50Ms: undefined,
    p99Ms: p99Ms === undefined ? undefined : summarize(p99Ms),
    cpuUsPerReq: cpuUs === undefined ? undefined : summarize(cpuUs),
    rssMb,
    peakRssMb: undefined,
    heapUsedMb: 10,
    errors,
    checks: {},
  }
}

function record<T>(results: T) {
  return { measuredAt: 'now', settings: {}, results }
}

describe('ratiosFor', () => {
  it('always has every key of the issue, null with a reason when nothing was measured', () => {
    const { values, details } = ratiosFor(RATIOS, {}, 'node24')
    for (const key of REQUIRED) {
      expect(values[key]).toBeNull()
      expect((details[key] as { reason: string }).reason).toMatch(/not run/)
    }
  })

  it('computes HTTP throughput and RSS ratios and checks them against the targets', () => {
    const m: Measurements = {
      http: record({
        node24: {
          'bare-hono': server([1000, 1000], 50),
          'sturdy-hono-stack': server([500, 400], 60, [], 0, undefined, [6, 12]),
          'anchor-hono-stack': server([100, 200], 120, [], 0, undefined, [20, 15]),
        },
      }),
    }
    const { values, details } = ratiosFor(RATIOS, m, 'node24')
    expect(values.sturdy_hono_stack_vs_bare_hono).toBe(0.45)
    // p99 per round, sturdy / anchor: 0.3 and 0.8, median 0.55 (lower is better).
    expect(values.p99_sturdy_stack_vs_anchor_hono_stack).toBe(0.55)
    expect(details.p99_sturdy_stack_vs_anchor_hono_stack).toMatchObject({
      met: true,
      target: '<= 0.6',
    })
    expect(values.sturdy_hono_stack_vs_anchor_hono_stack).toBe(3.5)
    expect(values.rss_sturdy_stack_vs_anchor_hono_stack).toBe(0.5)
    expect(details.sturdy_hono_stack_vs_bare_hono).toMatchObject({
      met: false,
      target: '>= 0.5',
      min: 0.4,
      max: 0.5,
    })
    expect(details.rss_sturdy_stack_vs_anchor_hono_stack).toMatchObject({
      met: true,
      target: '<= 0.75',
    })
    // Against the anchor stack the ratio is reported, no longer judged (issue 23).
    expect(details.sturdy_hono_stack_vs_anchor_hono_stack).not.toHaveProperty('target')
    // The same stack on Node 20 has its own, lower target.
    const n20 = ratiosFor(RATIOS, { http: record({ node20: m.http!.results.node24 }) }, 'node20')
    expect(n20.details.sturdy_hono_stack_vs_bare_hono).toMatchObject({
      met: true,
      target: '>= 0.4',
    })
  })

  it('compares against the hand-written ceilings (node:http, one Hono middleware) as references, not targets', () => {
    const m: Measurements = {
      http: record({
        node24: {
          'bare-hono': server([1000], 50),
          'node-stack': server([800], 50),
          'hono-handwritten-stack': server([500], 50),
          'sturdy-hono-stack': server([400], 60),
        },
      }),
    }
    const { values, details } = ratiosFor(REFERENCE_RATIOS, m, 'node24')
    expect(values.node_stack_vs_bare_hono).toBe(0.8)
    expect(values.sturdy_hono_stack_vs_node_stack).toBe(0.5)
    expect(details.sturdy_hono_stack_vs_node_stack).not.toHaveProperty('target')
    expect(values.hono_handwritten_stack_vs_bare_hono).toBe(0.5)
    expect(values.sturdy_hono_stack_vs_hono_handwritten_stack).toBe(0.8)
    expect(details.sturdy_hono_stack_vs_hono_handwritten_stack).not.toHaveProperty('target')
  })

  it('refuses a ratio for an incomplete Sturdy stack or a contender that answered errors', () => {
    const m: Measurements = {
      http: record({
        node20: {
          'bare-hono': server([1000], 50),
          'sturdy-hono-stack': server([900], 60, ['@sturdy/tracing has no src/index.ts yet']),
          'anchor-hono-stack': server([100], 120, [], 12),
        },
      }),
    }
    const { values, details } = ratiosFor(RATIOS, m, 'node20')
    expect(values.sturdy_hono_stack_vs_bare_hono).toBeNull()
    expect((details.sturdy_hono_stack_vs_bare_hono as { reason: string }).reason).toMatch(
      /incomplete/,
    )
    const anchor = ratiosFor(
      RATIOS,
      {
        http: record({
          node20: { ...m.http!.results.node20, 'sturdy-hono-stack': server([500], 60) },
        }),
      },
      'node20',
    )
    expect(
      (anchor.details.sturdy_hono_stack_vs_anchor_hono_stack as { reason: string }).reason,
    ).toMatch(/12 errors/)
  })

  it('adds the server-CPU cross-check to HTTP throughput ratios', () => {
    const m: Measurements = {
      http: record({
        node24: {
          'sturdy-hono-stack': server([500], 60, [], 0, [40]),
          'anchor-hono-stack': server([100], 120, [], 0, [160]),
        },
      }),
    }
    const { details } = ratiosFor(RATIOS, m, 'node24')
    expect(details.sturdy_hono_stack_vs_anchor_hono_stack).toMatchObject({ value: 5, cpuRatio: 4 })
    expect(details.rss_sturdy_stack_vs_anchor_hono_stack).not.toHaveProperty('cpuRatio')
  })

  it('inverts ns/op for policies so that > 1 means Sturdy is faster', () => {
    const ns = (x: number) => ({
      status: 'ok' as const,
      label: 'x',
      nsPerOp: summarize([x])!,
      cpuNsPerOp: undefined,
      missing: [],
    })
    const m: Measurements = {
      policies: record({
        node24: {
          success: {
            'sturdy-composed': ns(500),
            'cockatiel-wrap': ns(17_000),
            'opossum-fire': ns(1300),
          },
          failure: {},
        },
      }),
    }
    const { values } = ratiosFor(RATIOS, m, 'node24')
    expect(values.policies_vs_cockatiel).toBe(34)
    expect(values.policies_vs_opossum).toBe(2.6)
  })

  it('passes the reason of a null contender through', () => {
    const m: Measurements = {
      client: record({
        node24: {
          'sturdy-client': {
            status: 'null' as const,
            label: 'x',
            reason: '@sturdy/client does not exist yet',
          },
          fetch: {
            status: 'ok' as const,
            label: 'f',
            reqPerSec: summarize([1])!,
            p50Ms: undefined,
            p99Ms: undefined,
            errors: 0,
          },
        },
      }),
    }
    const { details } = ratiosFor(RATIOS, m, 'node24')
    expect((details.client_vs_fetch as { reason: string }).reason).toMatch(/does not exist yet/)
  })
})
