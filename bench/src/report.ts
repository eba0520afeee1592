import { renderOverload } from './overload-report.ts'
import type { HttpResults } from './parts/http.ts'
import { renderRateLimit } from './parts/rate-limit.ts'
import { round, type Summary } from './stats.ts'

/** The shape of results/latest.json the report reads (see cli.ts for the writer). */
export interface ResultsFile {
  generatedAt: string
  profile: 'full' | 'reduced'
  machine: Record<string, unknown>
  sturdyPackages: { present: readonly string[]; missing: Readonly<Record<string, string>> }
  ratios: Record<string, number | null>
  ratios_node20: Record<string, number | null>
  ratio_details: Record<'node24' | 'node20', Record<string, RatioDetail>>
  reference_ratios: Record<'node24' | 'node20', Record<string, number | null>>
  // biome-ignore lint/suspicious/noExplicitAny: each part's record is typed where it is produced
  [part: string]: any
}

interface RatioDetail {
  value: number | null
  min?: number
  max?: number
  reason?: string
  cpuRatio?: number
  target?: string
  met?: boolean | null
  describe: string
}

export const README_START = '<!-- bench:results:start -->'
export const README_END = '<!-- bench:results:end -->'

/** Replaces what sits between the markers; appends the block when they are missing. */
export function injectBetweenMarkers(readme: string, block: string): string {
  const start = readme.indexOf(README_START)
  const end = readme.indexOf(README_END)
  const wrapped = `${README_START}\n${block.trim()}\n${README_END}`
  if (start < 0 || end < start) return `${readme.trimEnd()}\n\n${wrapped}\n`
  return readme.slice(0, start) + wrapped + readme.slice(end + README_END.length)
}

const fmt = (x: number | undefined | null, digits = 3): string =>
  x === undefined || x === null || !Number.isFinite(x) ? '—' : String(round(x, digits))

const spread = (s: Summary | undefined, digits = 3): string =>
  s === undefined ? '—' : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')

/** The markdown block for bench/README.md: headline ratios, then every part's figures. */
export function renderMarkdown(
  r: ResultsFile,
  profiles: Readonly<Record<string, string>> = {},
): string {
  const out: string[] = []
  out.push(
    `Generated ${r.generatedAt} by \`pnpm bench\` (profile: **${r.profile}**) on ${String(
      r.machine.cpus,
    )} × ${String(r.machine.cpuModel)}; load: ${String(r.machine.loadGenerator)}; ` +
      `${String(r.machine.node20 ?? '')} / ${String(r.machine.node24 ?? '')}.`,
  )
  if (r.profile !== 'full') {
    out.push(
      '',
      '> **These figures come from a reduced run** (fewer/shorter rounds or a subset of contenders): they check the wiring and are not the figures to quote. Run `pnpm bench` on a quiet machine for those.',
    )
  }
  out.push(
    '',
    '### Headline ratios',
    '',
    '| ratio | target | Node 24 | Node 20 | CPU cross-check N24 / N20 | notes |',
    '|---|---|---|---|---|---|',
  )
  for (const key of Object.keys(r.ratios)) {
    const d24 = r.ratio_details.node24[key]
    const d20 = r.ratio_details.node20[key]
    const show = (d: RatioDetail | undefined): string => {
      if (d === undefined || d.value === null) return 'null'
      const mark = d.met === true ? ' ✅' : d.met === false ? ' ❌' : ''
      return `${fmt(d.value)}× (${fmt(d.min)}–${fmt(d.max)})${mark}`
    }
    const target = [d24?.target && `N24 ${d24.target}`, d20?.target && `N20 ${d20.target}`]
      .filter(Boolean)
      .join(', ')
    const reasons = [...new Set([d24?.reason, d20?.reason].filter(Boolean))].join('; ')
    out.push(
      `| \`${key}\` | ${target || '—'} | ${show(d24)} | ${show(d20)} | ${cpuCheck(d24, d20)} | ${cell(reasons || (d24?.describe ?? ''))} |`,
    )
  }
  out.push(
    '',
    'Ratios are medians of per-round ratios (min–max over rounds); > 1 favours Sturdy, except `rss_*` where < 1 does. The CPU cross-check is the same comparison from server CPU time per request (anchor / Sturdy): when it disagrees with the req/s ratio, the machine was busy.',
  )
  out.push(...renderHttp(r.http?.results as HttpResults | undefined))
  out.push(...renderPolicies(r.policies?.results))
  out.push(...renderClient(r.client?.results))
  out.push(...renderMetrics(r.metrics?.results))
  out.push(...renderSoak(r.soak?.results))
  out.push(...renderRateLimit(r['rate-limit']?.results))
  out.push(...renderOverload(r.overload?.results))
  const names = Object.keys(profiles).sort()
  if (names.length > 0) {
    out.push(
      '',
      '### CPU profiles (`pnpm bench profile <contender>`)',
      '',
      'Top frames by self time, for the misses above. Profiles are taken separately from the measured run.',
    )
    for (const name of names) {
      const lines = (profiles[name] as string).trim().split('\n').slice(0, 14)
      out.push(
        '',
        `<details><summary>${name}</summary>`,
        '',
        '```',
        ...lines,
        '```',
        '',
        '</details>',
      )
    }
  }
  const missing = Object.entries(r.sturdyPackages.missing)
  if (missing.length > 0) {
    out.push('', '### Sturdy packages not measured yet', '')
    for (const [, reason] of missing) out.push(`- ${reason}`)
  }
  return out.join('\n')
}

/** Server-CPU-per-request ratios, when the ratio is an HTTP throughput ratio. */
function cpuCheck(d24: RatioDetail | undefined, d20: RatioDetail | undefined): string {
  if (d24?.cpuRatio === undefined && d20?.cpuRatio === undefined) return '—'
  return `${fmt(d24?.cpuRatio)} / ${fmt(d20?.cpuRatio)}`
}

function renderHttp(http: HttpResults | undefined): string[] {
  if (http === undefined) return []
  const out: string[] = ['', '### HTTP server overhead (`GET /users/:id`)']
  for (const [runtime, contenders] of Object.entries(http)) {
    if (contenders === undefined) continue
    const bare = contenders['bare-hono']
    const base = bare?.status === 'ok' ? bare.reqPerSec.median : undefined
    out.push(
      '',
      `**${runtime}**`,
      '',
      '| contender | req/s median (min–max) | × bare Hono | p50 ms | p99 ms | server CPU µs/req | RSS MB | notes |',
      '|---|---|---|---|---|---|---|---|',
    )
    for (const [name, c] of Object.entries(contenders)) {
      if (c.status !== 'ok') {
        out.push(`| ${c.label} | null | — | — | — | — | — | ${cell(c.reason)} |`)
        continue
      }
      const notes = [
        c.missing.length > 0 ? `partial: ${c.missing.join('; ')}` : '',
        c.errors > 0 ? `${c.errors} errors` : '',
      ]
        .filter(Boolean)
        .join('; ')
      out.push(
        `| ${c.label} (\`${name}\`) | ${spread(c.reqPerSec, 4)} | ${base === undefined ? '—' : fmt(c.reqPerSec.median / base)} | ${fmt(c.p50Ms?.median)} | ${fmt(c.p99Ms?.median)} | ${fmt(c.cpuUsPerReq?.median)} | ${fmt(c.rssMb)} | ${cell(notes)} |`,
      )
    }
  }
  return out
}

// biome-ignore lint/suspicious/noExplicitAny: read from JSON
function renderPolicies(p: any): string[] {
  if (p === undefined) return []
  const out = ['', '### Policies (ns/op, lower is better)']
  for (const [runtime, paths] of Object.entries(p)) {
    // biome-ignore lint/suspicious/noExplicitAny: read from JSON
    const { success, failure, open } = paths as any
    out.push(
      '',
      `**${runtime}**`,
      '',
      '| contender | success path | failure path | open circuit (rejected) |',
      '|---|---|---|---|',
    )
    for (const name of Object.keys(success)) {
      // biome-ignore lint/suspicious/noExplicitAny: read from JSON
      const show = (r: any): string =>
        r === undefined ? '—' : r.status === 'ok' ? spread(r.nsPerOp, 4) : `null: ${cell(r.reason)}`
      out.push(
        `| ${success[name].label} | ${show(success[name])} | ${show(failure?.[name])} | ${show(open?.[name])} |`,
      )
    }
  }
  return out
}

// biome-ignore lint/suspicious/noExplicitAny: read from JSON
function renderClient(c: any): string[] {
  if (c === undefined) return []
  const out = ['', '### Client (local upstream)']
  for (const [runtime, contenders] of Object.entries(c)) {
    out.push(
      '',
      `**${runtime}**`,
      '',
      '| client | req/s median (min–max) | p50 ms | p99 ms | client CPU µs/call |',
      '|---|---|---|---|---|',
    )
    // biome-ignore lint/suspicious/noExplicitAny: read from JSON
    for (const r of Object.values(contenders as Record<string, any>)) {
      out.push(
        r.status === 'ok'
          ? `| ${r.label} | ${spread(r.reqPerSec, 4)} | ${fmt(r.p50Ms?.median)} | ${fmt(r.p99Ms?.median)} | ${fmt(r.cpuUsPerReq?.median)} |`
          : `| ${r.label} | null: ${cell(r.reason)} | — | — | — |`,
      )
    }
  }
  return out
}

// biome-ignore lint/suspicious/noExplicitAny: read from JSON
function renderMetrics(m: any): string[] {
  if (m === undefined) return []
  const sizes = Object.keys(m.bySeries)
  const out = [
    '',
    `### Metrics exposition (ms per scrape, ${m.runtime})`,
    '',
    `| contender | ${sizes.map((s) => `${s} series`).join(' | ')} |`,
    `|---|${sizes.map(() => '---').join('|')}|`,
  ]
  const names = new Set(sizes.flatMap((s) => Object.keys(m.bySeries[s])))
  for (const name of names) {
    const label = sizes.map((s) => m.bySeries[s][name]?.label).find(Boolean)
    const cells = sizes.map((s) => {
      const r = m.bySeries[s][name]
      return r === undefined
        ? '—'
        : r.status === 'ok'
          ? spread(r.msPerScrape)
          : `null: ${cell(r.reason)}`
    })
    out.push(`| ${label} | ${cells.join(' | ')} |`)
  }
  return out
}

// biome-ignore lint/suspicious/noExplicitAny: read from JSON
function renderSoak(s: any): string[] {
  if (s === undefined) return []
  const out = [
    '',
    `### Memory soak (${s.requests} requests, deadlines firing, ${s.runtime})`,
    '',
    '| contender | RSS MB before → after | heap MB before → after | responses |',
    '|---|---|---|---|',
  ]
  // biome-ignore lint/suspicious/noExplicitAny: read from JSON
  for (const r of Object.values(s.contenders as Record<string, any>)) {
    out.push(
      r.status === 'ok'
        ? `| ${r.label} | ${fmt(r.before.rssMb)} → ${fmt(r.after.rssMb)} | ${fmt(r.before.heapUsedMb)} → ${fmt(r.after.heapUsedMb)} | ${cell(JSON.stringify(r.statuses))} |`
        : `| ${r.label} | null: ${cell(r.reason)} | — | — |`,
    )
  }
  return out
}

const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * An SVG bar chart of HTTP throughput relative to bare Hono on each runtime, with the
 * min–max of the rounds as whiskers. Null contenders get a labelled empty row.
 */
export function renderSvg(http: HttpResults | undefined): string {
  const runtimes = Object.keys(http ?? {}) as (keyof HttpResults)[]
  const names = [...new Set(runtimes.flatMap((rt) => Object.keys(http?.[rt] ?? {})))]
  const colors: Record<string, string> = { node20: '#4f81bd', node24: '#f39c34' }
  const barH = 9
  const rowH = runtimes.length * (barH + 2) + 8
  const left = 300
  const width = 820
  const plotW = width - left - 60
  const top = 40
  const height = top + names.length * rowH + 30
  let maxX = 1.2
  for (const rt of runtimes) {
    const base = http?.[rt]?.['bare-hono']
    if (base?.status !== 'ok') continue
    for (const c of Object.values(http?.[rt] ?? {})) {
      if (c.status === 'ok') maxX = Math.max(maxX, c.reqPerSec.max / base.reqPerSec.median)
    }
  }
  // One decimal is plenty for pixels and keeps the committed SVG small.
  const x = (v: number): number => Math.round((left + (Math.min(v, maxX) / maxX) * plotW) * 10) / 10
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="18" font-size="13" font-weight="bold">HTTP req/s relative to bare Hono (GET /users/:id), median with min–max of rounds</text>`,
  ]
  runtimes.forEach((rt, i) => {
    parts.push(
      `<rect x="${left + i * 90}" y="26" width="10" height="8" fill="${colors[rt] ?? '#888'}"/><text x="${left + i * 90 + 14}" y="34">${rt}</text>`,
    )
  })
  for (const tick of [0, 0.25, 0.5, 0.75, 1, 1.5, 2].filter((t) => t <= maxX)) {
    parts.push(
      `<line x1="${x(tick)}" y1="${top}" x2="${x(tick)}" y2="${height - 25}" stroke="#ddd"/><text x="${x(tick)}" y="${height - 12}" text-anchor="middle">${tick}×</text>`,
    )
  }
  names.forEach((name, row) => {
    const y0 = top + row * rowH + 4
    const label = runtimes.map((rt) => http?.[rt]?.[name]?.label).find(Boolean) ?? name
    parts.push(`<text x="${left - 6}" y="${y0 + rowH / 2}" text-anchor="end">${esc(label)}</text>`)
    runtimes.forEach((rt, i) => {
      const y = y0 + i * (barH + 2)
      const base = http?.[rt]?.['bare-hono']
      const c = http?.[rt]?.[name]
      if (c?.status !== 'ok' || base?.status !== 'ok') {
        if (c !== undefined)
          parts.push(`<text x="${left + 4}" y="${y + barH - 1}" fill="#999">${rt}: null</text>`)
        return
      }
      const b = base.reqPerSec.median
      const partial = c.missing.length > 0 ? ' (partial)' : ''
      parts.push(
        `<rect x="${left}" y="${y}" width="${Math.round((x(c.reqPerSec.median / b) - left) * 10) / 10}" height="${barH}" fill="${colors[rt] ?? '#888'}" opacity="${partial ? 0.45 : 1}"/>`,
        `<line x1="${x(c.reqPerSec.min / b)}" y1="${y + barH / 2}" x2="${x(c.reqPerSec.max / b)}" y2="${y + barH / 2}" stroke="#222"/>`,
        `<text x="${x(c.reqPerSec.max / b) + 4}" y="${y + barH - 1}">${fmt(c.reqPerSec.median / b)}×${partial}</text>`,
      )
    })
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}
