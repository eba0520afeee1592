/**
 * A small parser for the Prometheus text and OpenMetrics formats, for tests: scrape the
 * real registry, parse, then assert exact series and values.
 */

/** One sample line. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
  readonly exemplar?: { readonly labels: Readonly<Record<string, string>>; readonly value: number }
}

/** A parsed scrape. */
export interface Exposition {
  readonly samples: readonly Sample[]
  /** `# TYPE` per metric family. */
  readonly types: ReadonlyMap<string, string>
  /** The value of the one sample matching `name` and exactly `labels`; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined
  /** The canonical keys (`name{a="1",b="2"}`, labels sorted) of every sample of `name`. */
  series(name: string): string[]
  /** The sample matching `name` and exactly `labels`. */
  sample(name: string, labels?: Record<string, string>): Sample | undefined
}

const LINE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*?)\})?\s+(\S+)(?:\s+\S+)?(?:\s+#\s+\{(.*?)\}\s+(\S+)(?:\s+\S+)?)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses exposition text; throws on a line it does not understand. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '' || line === '# EOF') continue
    if (line.startsWith('# TYPE ')) {
      const [, , family = '', type = ''] = line.split(' ')
      types.set(family, type)
      continue
    }
    if (line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) throw new Error(`Unparseable line: ${line}`)
    const sample: Sample = {
      name: m[1]!,
      labels: labels(m[2]),
      value: number(m[3]!),
      ...(m[4] === undefined ? {} : { exemplar: { labels: labels(m[4]), value: number(m[5]!) } }),
    }
    samples.push(sample)
  }
  const find = (name: string, wanted: Record<string, string> = {}): Sample | undefined =>
    samples.find((s) => s.name === name && key(s.name, s.labels) === key(name, wanted))
  return {
    samples,
    types,
    sample: find,
    value: (name, wanted) => find(name, wanted)?.value,
    series: (name) => samples.filter((s) => s.name === name).map((s) => key(s.name, s.labels)),
  }
}

/** The canonical key of a series: labels sorted by name. */
export function key(name: string, labels: Readonly<Record<string, string>>): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${labels[k]}"`)
  return `${name}{${parts.join(',')}}`
}

function labels(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (text === undefined) return out
  for (const m of text.matchAll(LABEL)) out[m[1]!] = m[2]!.replace(/\\(.)/g, '$1')
  return out
}

function number(text: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY
  if (text === '-Inf') return Number.NEGATIVE_INFINITY
  const n = Number(text)
  if (Number.isNaN(n) && text !== 'NaN' && text !== 'Nan') throw new Error(`Bad value ${text}`)
  return n
}
