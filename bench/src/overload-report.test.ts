import { describe, expect, it } from 'vitest'
import { renderOverload, renderOverloadSvg } from './overload-report.ts'
import type { OverloadResults, OverloadRun } from './parts/overload.ts'
import { fixedOverloadLimit, quantile } from './parts/overload.ts'

function run(over: Partial<OverloadRun>): OverloadRun {
  return {
    round: 0,
    goodputPerSec: 900,
    goodputFraction: 0.9,
    admittedP50Ms: 8,
    admittedP99Ms: 12,
    admittedP99SteadyMs: 11,
    shedPerSec: 800,
    shedP50Ms: 0.8,
    shedP99Ms: 3,
    timeouts: 0,
    other: 0,
    firstShedMs: 300,
    healthOk: 600,
    healthNotOk: 0,
    maxSendLagMs: 2,
    loadavg1: 1.5,
    capacityPerSec: 1000,
    unloadedP50Ms: 4,
    unloadedP99Ms: 7,
    seconds: [{ ok: 900, shed: 800, timeouts: 0, other: 0, okP99Ms: 12 }],
    server: [],
    ...over,
  }
}

const results: OverloadResults = {
  runtime: 'v20.20.2',
  settings: { cpuMs: 1, ioMs: 2, seconds: 1, factor: 2, timeoutMs: 1000, rounds: 2 },
  capacityPerSec: 1000,
  capacities: [1000, 1000],
  variants: {
    none: {
      label: 'no limit',
      runs: [
        run({ goodputFraction: 0.1, shedPerSec: 0 }),
        run({ goodputFraction: 0.3, shedPerSec: 0 }),
      ],
    },
    limit: { label: 'with limit', runs: [run({}), run({ goodputFraction: 0.94 })] },
  },
  shedCost: { nsPerShed: 250, bytesPerShed: 0 },
}

describe('overload report', () => {
  it('renders medians with the range over rounds, and the in-process shed cost', () => {
    const text = renderOverload(results).join('\n')
    expect(text).toContain('| no limit | 20% (10%–30%) |')
    expect(text).toContain('| with limit | 92% (90%–94%) |')
    expect(text).toContain('1.71×') // 12 / 7
    expect(text).toContain('**0.25 µs**')
  })

  it('says why when the part could not run, and draws a chart either way', () => {
    expect(renderOverload({ status: 'null', reason: 'Node 20 not found' }).join('\n')).toContain(
      'Node 20 not found',
    )
    expect(renderOverloadSvg(results)).toContain('<polyline')
    expect(renderOverloadSvg(undefined)).toContain('not measured')
  })

  it('quantile is the nearest rank', () => {
    expect(quantile([], 0.5)).toBeNaN()
    expect(quantile([5, 1, 3], 0.5)).toBe(3)
    expect(
      quantile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.99,
      ),
    ).toBe(99)
  })
})

describe('BENCH_OVERLOAD_LIMIT', () => {
  it('unset or empty keeps the defaults; a positive integer is a fixed bulkhead', () => {
    expect(fixedOverloadLimit({})).toBeUndefined()
    expect(fixedOverloadLimit({ BENCH_OVERLOAD_LIMIT: '' })).toBeUndefined()
    expect(fixedOverloadLimit({ BENCH_OVERLOAD_LIMIT: '4' })).toBe(4)
  })

  it('refuses anything else, naming the variable', () => {
    for (const bad of ['0', '-2', '2.5', 'four']) {
      expect(() => fixedOverloadLimit({ BENCH_OVERLOAD_LIMIT: bad })).toThrow(
        /BENCH_OVERLOAD_LIMIT/,
      )
    }
  })
})
