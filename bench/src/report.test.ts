import { describe, expect, it } from 'vitest'
import {
  injectBetweenMarkers,
  README_END,
  README_START,
  type ResultsFile,
  renderMarkdown,
  renderSvg,
} from './report.ts'
import { summarize } from './stats.ts'

describe('injectBetweenMarkers', () => {
  it('replaces only what sits between the markers', () => {
    const readme = `# Title\n\nintro\n\n${README_START}\nold\n${README_END}\n\n## After\n`
    const out = injectBetweenMarkers(readme, 'new table')
    expect(out).toBe(`# Title\n\nintro\n\n${README_START}\nnew table\n${README_END}\n\n## After\n`)
    expect(injectBetweenMarkers(out, 'newer')).toContain(
      `${README_START}\nnewer\n${README_END}\n\n## After`,
    )
  })

  it('appends the block when the markers are missing', () => {
    expect(injectBetweenMarkers('# T\n', 'x')).toBe(`# T\n\n${README_START}\nx\n${README_END}\n`)
  })
})

const http = {
  node20: {
    'bare-hono': {
      status: 'ok' as const,
      label: 'bare Hono',
      stack: [],
      missing: [],
      reqPerSec: summarize([1000, 1100])!,
      p50Ms: summarize([1])!,
      p99Ms: summarize([3])!,
      cpuUsPerReq: summarize([40])!,
      rssMb: 50,
      peakRssMb: 55,
      heapUsedMb: 10,
      errors: 0,
      checks: {},
    },
    'fastify-sturdy': {
      status: 'null' as const,
      label: 'Fastify + Sturdy',
      reason: '@sturdy/fastify has no src/index.ts yet',
    },
  },
}

describe('renderMarkdown', () => {
  it('shows ratios with targets, null reasons, and warns about reduced runs', () => {
    const file: ResultsFile = {
      generatedAt: '2026-01-01T00:00:00Z',
      profile: 'reduced',
      machine: { cpus: 2, cpuModel: 'cpu', loadGenerator: 'wrk', node20: 'v20', node24: 'v24' },
      sturdyPackages: {
        present: ['core'],
        missing: { client: '@sturdy/client does not exist yet' },
      },
      ratios: { a: 0.5, b: null },
      ratios_node20: { a: 0.4, b: null },
      ratio_details: {
        node24: {
          a: { value: 0.5, min: 0.4, max: 0.6, target: '>= 0.45', met: true, describe: 'a' },
          b: { value: null, reason: 'no client', describe: 'b' },
        },
        node20: {
          a: { value: 0.4, min: 0.4, max: 0.4, describe: 'a' },
          b: { value: null, reason: 'no client', describe: 'b' },
        },
      },
      reference_ratios: { node24: {}, node20: {} },
      http: { measuredAt: 'now', settings: {}, results: http },
    }
    const md = renderMarkdown(file, {
      'sturdy-hono-stack-node24': '# header\n  10  50%  hot frame\n',
    })
    expect(md).toContain('<details><summary>sturdy-hono-stack-node24</summary>')
    expect(md).toContain('  10  50%  hot frame')
    expect(md).toContain('reduced run')
    expect(md).toContain('| `a` | N24 >= 0.45 | 0.5× (0.4–0.6) ✅ | 0.4× (0.4–0.4) | — |')
    expect(md).toContain('| `b` | — | null | null | — | no client |')
    expect(md).toContain('| bare Hono (`bare-hono`) | 1050 (1000–1100) | 1 |')
    expect(md).toContain('@sturdy/fastify has no src/index.ts yet')
    expect(md).toContain('@sturdy/client does not exist yet')
  })
})

describe('renderSvg', () => {
  it('draws a bar per measured contender and labels null ones', () => {
    const svg = renderSvg(http)
    expect(svg.startsWith('<svg')).toBe(true)
    expect(svg).toContain('bare Hono')
    expect(svg).toContain('node20: null')
    expect(svg.match(/<rect /g)?.length).toBeGreaterThan(2)
  })
})
