/**
 * The overload part's report: a table (in bench/README.md and in @sturdy/limit's README,
 * between `<!-- overload:results:start -->` markers) and a chart of goodput and admitted
 * p99 second by second, without and with the limit (results/overload.svg).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BENCH_DIR } from './build.ts'
import type { OverloadResults, OverloadRun } from './parts/overload.ts'

const START = '<!-- overload:results:start -->'
const END = '<!-- overload:results:end -->'

type Results = OverloadResults | { status: 'null'; reason: string } | undefined

const f = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits)
const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '—')

/** Median of a figure over a variant's runs, with the range when there are several. */
function over(
  runs: readonly OverloadRun[],
  pick: (r: OverloadRun) => number,
  show: (x: number) => string,
): string {
  const xs = runs
    .map(pick)
    .filter(Number.isFinite)
    .sort((a, b) => a - b)
  if (xs.length === 0) return '—'
  const mid =
    xs.length % 2 === 1
      ? (xs[(xs.length - 1) / 2] as number)
      : ((xs[xs.length / 2 - 1] as number) + (xs[xs.length / 2] as number)) / 2
  return xs.length === 1
    ? show(mid)
    : `${show(mid)} (${show(xs[0] as number)}–${show(xs[xs.length - 1] as number)})`
}

/** The markdown table of the overload part, or nothing when it has not run. */
export function renderOverload(results: Results): string[] {
  if (results === undefined) return []
  if ('status' in results) return ['', `### Overload`, '', `null: ${results.reason}`]
  const s = results.settings
  const out = [
    '',
    `### Overload: ${s.factor}× capacity, open loop, ${s.seconds} s, ${s.rounds} interleaved rounds (${results.runtime})`,
    '',
    `Handler: ${s.cpuMs} ms of CPU around a ${s.ioMs} ms awaited wait. Capacity (bare server, closed loop, 32 in flight, measured before each round): **${(results.capacities ?? [results.capacityPerSec]).map((c) => f(c, 0)).join(', ')} req/s**; each round offers twice its own, every request with a ${s.timeoutMs} ms deadline after which its caller gives up. Server and generator at nice ${s.nice ?? 0} on a machine shared with other work (load average in the last column). Medians over rounds (min–max).`,
    '',
    '| server | goodput (share of capacity) | admitted p99, ms (steady, after 5 s) | unloaded p99, ms | admitted p99 ÷ unloaded p99 | shed/s | shed answer p50 / p99, ms | first shed after, ms | caller timeouts | /healthz not 200 | load average |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const v of Object.values(results.variants)) {
    if ('status' in v) {
      out.push(`| ${v.label} | null: ${v.reason} | | | | | | | | | |`)
      continue
    }
    const r = v.runs
    out.push(
      `| ${v.label} | ${over(r, (x) => x.goodputFraction, pct)} | ${over(
        r,
        (x) => x.admittedP99Ms,
        (x) => f(x),
      )} (${over(
        r,
        (x) => x.admittedP99SteadyMs,
        (x) => f(x),
      )}) | ${over(
        r,
        (x) => x.unloadedP99Ms,
        (x) => f(x),
      )} | ${over(
        r,
        (x) => x.admittedP99Ms / x.unloadedP99Ms,
        (x) => `${f(x, 2)}×`,
      )} | ${over(
        r,
        (x) => x.shedPerSec,
        (x) => f(x, 0),
      )} | ${over(
        r,
        (x) => x.shedP50Ms,
        (x) => f(x, 2),
      )} / ${over(
        r,
        (x) => x.shedP99Ms,
        (x) => f(x, 2),
      )} | ${over(
        r,
        (x) => x.firstShedMs ?? Number.NaN,
        (x) => f(x, 0),
      )} | ${over(
        r,
        (x) => x.timeouts,
        (x) => f(x, 0),
      )} | ${over(
        r,
        (x) => x.healthNotOk,
        (x) => f(x, 0),
      )} | ${over(
        r,
        (x) => x.loadavg1,
        (x) => f(x, 1),
      )} |`,
    )
  }
  if (results.shedCost !== undefined) {
    out.push(
      '',
      `Inside the server, one shed costs the middleware **${f(results.shedCost.nsPerShed / 1000, 2)} µs** (the decision and the hand-off of the pre-rendered 503, measured in-process over 500,000 sheds; heap growth ${f(results.shedCost.bytesPerShed, 2)} bytes per shed).`,
    )
  }
  return out
}

/** Goodput (share of capacity) and admitted p99 per second, round 1 of each variant. */
export function renderOverloadSvg(results: Results): string {
  const width = 760
  const panel = 200
  const height = 2 * panel + 124
  const left = 60
  const right = width - 20
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ]
  if (results === undefined || 'status' in results) {
    parts.push(`<text x="20" y="40">overload part not measured</text></svg>`)
    return parts.join('\n')
  }
  const seconds = results.settings.seconds
  const x = (sec: number): number => left + ((right - left) * sec) / seconds
  const colors: Record<string, string> = {
    none: '#c0392b',
    limit: '#27ae60',
    capped: '#2980b9',
    'capped-early': '#8e44ad',
  }
  const top1 = 30
  const top2 = top1 + panel + 50
  const timeout = results.settings.timeoutMs
  const y1 = (v: number): number => top1 + panel - (panel * Math.min(v, 1.2)) / 1.2
  // Latency on a log scale from 1 ms to the deadline.
  const y2 = (ms: number): number => {
    const v = Math.log10(Math.max(1, Math.min(ms, timeout))) / Math.log10(timeout)
    return top2 + panel - panel * v
  }
  parts.push(
    `<text x="${left}" y="${top1 - 10}" font-weight="bold">Goodput (answers within the deadline) as a share of capacity, per second</text>`,
    `<text x="${left}" y="${top2 - 10}" font-weight="bold">p99 of answers within the deadline, ms (log scale, ${timeout} ms = deadline)</text>`,
  )
  for (const v of [0, 0.5, 0.9, 1]) {
    parts.push(
      `<line x1="${left}" x2="${right}" y1="${y1(v)}" y2="${y1(v)}" stroke="${v === 0.9 ? '#999' : '#ddd'}"${v === 0.9 ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${left - 6}" y="${y1(v) + 4}" text-anchor="end">${(v * 100).toFixed(0)}%</text>`,
    )
  }
  for (const ms of [1, 10, 100, timeout]) {
    parts.push(
      `<line x1="${left}" x2="${right}" y1="${y2(ms)}" y2="${y2(ms)}" stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y2(ms) + 4}" text-anchor="end">${ms}</text>`,
    )
  }
  for (let sec = 0; sec <= seconds; sec += 5) {
    parts.push(`<text x="${x(sec)}" y="${top2 + panel + 16}" text-anchor="middle">${sec} s</text>`)
  }
  let legend = 0
  for (const [name, v] of Object.entries(results.variants)) {
    if ('status' in v) continue
    const run = v.runs[0]
    if (run === undefined) continue
    const color = colors[name] ?? '#34495e'
    const good = run.seconds.map((s, i) => `${x(i + 0.5)},${y1(s.ok / run.capacityPerSec)}`)
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${good.join(' ')}"/>`,
    )
    const lat = run.seconds
      .map((s, i) => (Number.isFinite(s.okP99Ms) ? `${x(i + 0.5)},${y2(s.okP99Ms)}` : undefined))
      .filter((p) => p !== undefined)
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${lat.join(' ')}"/>`,
    )
    if (Number.isFinite(run.unloadedP99Ms)) {
      parts.push(
        `<line x1="${left}" x2="${right}" y1="${y2(run.unloadedP99Ms)}" y2="${y2(run.unloadedP99Ms)}" stroke="${color}" stroke-dasharray="2 3"/>`,
      )
    }
    const ly = height - 30 + legend * 14
    parts.push(
      `<line x1="${left}" x2="${left + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${left + 30}" y="${ly}">${v.label} (dotted: its unloaded p99)</text>`,
    )
    legend++
  }
  parts.push('</svg>')
  return parts.join('\n')
}

/** Writes results/overload.svg and the table into @sturdy/limit's README. */
export function writeOverloadReport(results: Results): void {
  if (results === undefined) return
  writeFileSync(join(BENCH_DIR, 'results', 'overload.svg'), renderOverloadSvg(results))
  const readme = join(BENCH_DIR, '..', 'packages', 'limit', 'README.md')
  if (!existsSync(readme)) return
  const text = readFileSync(readme, 'utf8')
  const start = text.indexOf(START)
  const end = text.indexOf(END)
  if (start < 0 || end < start) return
  const block = renderOverload(results).join('\n').trim()
  writeFileSync(
    readme,
    `${text.slice(0, start)}${START}\n${block}\n${END}${text.slice(end + END.length)}`,
  )
}
