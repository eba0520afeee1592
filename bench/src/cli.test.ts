import { describe, expect, it } from 'vitest'
import { estimateSeconds } from './cli.ts'
import { parseConfig } from './config.ts'

describe('estimateSeconds', () => {
  it('keeps the default suite within the ~17 minute budget on 2 cores', () => {
    const full = estimateSeconds(parseConfig([]))
    expect(full).toBeGreaterThan(300)
    // ~11 min for the throughput parts (the per-middleware ratios on Node 20 and 24, as
    // issue 23's targets are on both) plus the overload part (2 rounds × 4 servers × 30 s,
    // as the issue asks, with the throughput-capped limit, with and without shedEarly(),
    // beside the defaults: ~5 min). The hand-written Hono ceiling adds ~20 s.
    expect(full).toBeLessThanOrEqual(1020)
  })

  it('counts only the parts asked for', () => {
    const all = estimateSeconds(parseConfig([]))
    const http = estimateSeconds(parseConfig(['http']))
    expect(http).toBeGreaterThan(0)
    expect(http).toBeLessThan(all)
    expect(estimateSeconds(parseConfig(['--smoke']))).toBeLessThan(all / 3)
  })
})
