/**
 * @module
 * The Prometheus text exposition format, read back: which sample names a scrape holds
 * and which label names each carries. (prom-client writes this format but has no
 * parser.) Values and timestamps are not needed here and are not parsed.
 */

/** Sample name (`x_bucket`, `x_count` ... as written) → label names seen on it. */
export type Exposition = Map<string, Set<string>>

/** Reads a scrape (text format 0.0.4) into `into`, merging label names per sample name. */
export function readExposition(text: string, into: Exposition = new Map()): Exposition {
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels = into.get(m[1]!) ?? new Set<string>()
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) {
      labels.add(l[1]!)
    }
    into.set(m[1]!, labels)
  }
  return into
}

/** Metric families declared by `# TYPE` lines (declared even before any sample). */
export function declaredFamilies(text: string): Set<string> {
  const out = new Set<string>()
  for (const m of text.matchAll(/^# TYPE (\S+) \S+$/gm)) out.add(m[1]!)
  return out
}
