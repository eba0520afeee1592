/** What one load-generator run reports, whichever tool produced it. */
export interface LoadResult {
  readonly requestsPerSec: number
  readonly requests: number
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  /** Responses that were not 2xx/3xx: a contender that errors is not fast, it is broken. */
  readonly non2xx: number
  /** Connect/read/write errors and timeouts, summed. */
  readonly socketErrors: number
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Parses a wrk duration such as `635.00us`, `1.48ms`, `2.01s`, into milliseconds. */
export function parseWrkDuration(text: string): number | undefined {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim())
  if (m === null) return undefined
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number)
}

/**
 * Parses the text wrk prints with `--latency`. Throws when the throughput line is
 * missing: a run that printed no figure must not turn into a zero.
 */
export function parseWrk(text: string): LoadResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text)
  if (rps === null) throw new Error(`wrk output has no Requests/sec line:\n${text.slice(0, 500)}`)
  const total = /^\s*(\d+) requests in /m.exec(text)
  const pct = (p: string): number | undefined => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text)
    return m === null ? undefined : parseWrkDuration(m[1] as string)
  }
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(text)
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
  const socketErrors = sock === null ? 0 : sock.slice(1, 5).reduce((sum, n) => sum + Number(n), 0)
  return {
    requestsPerSec: Number(rps[1]),
    requests: total === null ? 0 : Number(total[1]),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors,
  }
}

/** The subset of autocannon's `--json` output the suite reads. */
interface AutocannonJson {
  requests: { average: number; total?: number }
  latency: { p50: number; p99: number }
  non2xx: number
  errors: number
  timeouts: number
}

/** Parses autocannon's `--json` output (the fallback load generator). */
export function parseAutocannon(text: string): LoadResult {
  const start = text.indexOf('{')
  if (start < 0) throw new Error(`autocannon printed no JSON:\n${text.slice(0, 500)}`)
  const json = JSON.parse(text.slice(start)) as AutocannonJson
  return {
    requestsPerSec: json.requests.average,
    requests: json.requests.total ?? 0,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    non2xx: json.non2xx,
    socketErrors: json.errors + json.timeouts,
  }
}
