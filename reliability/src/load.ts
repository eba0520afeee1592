/**
 * Load generators on node:http keep-alive agents: closed loop (N clients back to back)
 * and open loop (a fixed arrival rate, whatever the server does). Every request is
 * bounded (`hardTimeoutMs`), every loop by a count or a duration, and every socket is
 * destroyed at the end.
 */
import { Agent, request } from 'node:http'

/** One request to send. */
export interface Shot {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: string
  /** Destroy the socket this long after sending (a client giving up mid-request). */
  abortAfterMs?: number
}

/** What the clients saw. */
export interface LoadStats {
  sent: number
  /** Complete responses by status. */
  statuses: Record<number, number>
  /** Latency of every complete response, ms, in completion order. */
  latenciesMs: number[]
  /** The slowest complete response of each status, ms. */
  maxByStatus: Record<number, number>
  /** Completion time of every complete 2xx, ms since the start. */
  okAtMs: number[]
  /** Requests that failed without a response, by error code (`CLIENT_TIMEOUT`: the hard bound). */
  errors: Record<string, number>
  /** Requests the client aborted on purpose (`abortAfterMs`). */
  aborted: number
  durationMs: number
}

interface Common {
  /** `http://127.0.0.1:port` */
  base: string
  /** Builds request `i`. */
  shot: (i: number) => Shot
  /** A request still unanswered after this is destroyed and counted as `CLIENT_TIMEOUT`. @default 30000 */
  hardTimeoutMs?: number
}

/** Options of `closedLoop`. */
export interface ClosedLoopOptions extends Common {
  concurrency: number
  /** Stop after this many requests... */
  total?: number
  /** ...or after this long, whichever comes first. @default 60000 */
  durationMs?: number
}

/** `concurrency` clients, each sending its next request when the last one ends. */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadStats> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency })
  const stats = emptyStats()
  const start = performance.now()
  const end = start + (options.durationMs ?? 60_000)
  const total = options.total ?? Number.POSITIVE_INFINITY
  let i = 0
  const client = async () => {
    while (i < total && performance.now() < end) {
      await send(agent, options, options.shot(i++), stats, start)
    }
  }
  try {
    await Promise.all(Array.from({ length: options.concurrency }, client))
  } finally {
    agent.destroy()
  }
  stats.durationMs = performance.now() - start
  return stats
}

/** Options of `openLoop`. */
export interface OpenLoopOptions extends Common {
  ratePerSecond: number
  durationMs: number
  /** Arrivals beyond this many in flight are not sent (counted in `skipped`). @default 2000 */
  maxInFlight?: number
}

/** Requests arriving at a fixed rate, evenly spaced, however slowly they are answered. */
export async function openLoop(options: OpenLoopOptions): Promise<LoadStats & { skipped: number }> {
  const maxInFlight = options.maxInFlight ?? 2000
  const agent = new Agent({ keepAlive: true, maxSockets: maxInFlight })
  const stats = emptyStats()
  const start = performance.now()
  const inFlight = new Set<Promise<void>>()
  let skipped = 0
  let i = 0
  const intervalMs = 1000 / options.ratePerSecond
  try {
    while (performance.now() - start < options.durationMs) {
      // Catch up on the arrivals due by now (timers on a busy machine fire late).
      const due = Math.floor((performance.now() - start) / intervalMs)
      while (i < due) {
        i++
        if (inFlight.size >= maxInFlight) {
          skipped++
          continue
        }
        const p = send(agent, options, options.shot(i), stats, start).finally(() =>
          inFlight.delete(p),
        )
        inFlight.add(p)
      }
      await new Promise((r) => setTimeout(r, Math.max(1, intervalMs)))
    }
    await Promise.all(inFlight)
  } finally {
    agent.destroy()
  }
  stats.durationMs = performance.now() - start
  return { ...stats, skipped }
}

function emptyStats(): LoadStats {
  return {
    sent: 0,
    statuses: {},
    latenciesMs: [],
    maxByStatus: {},
    okAtMs: [],
    errors: {},
    aborted: 0,
    durationMs: 0,
  }
}

function send(
  agent: Agent,
  options: Common,
  shot: Shot,
  stats: LoadStats,
  start: number,
): Promise<void> {
  return new Promise((resolve) => {
    const sentAt = performance.now()
    stats.sent++
    let settled = false
    const timers: NodeJS.Timeout[] = []
    const settle = (record: () => void) => {
      if (settled) return
      settled = true
      for (const t of timers) clearTimeout(t)
      record()
      resolve()
    }
    const req = request(`${options.base}${shot.path}`, {
      agent,
      method: shot.method ?? 'GET',
      headers: shot.headers,
    })
    req.on('response', (res) => {
      res.resume()
      res.on('end', () =>
        settle(() => {
          const now = performance.now()
          const status = res.statusCode ?? 0
          stats.statuses[status] = (stats.statuses[status] ?? 0) + 1
          stats.latenciesMs.push(now - sentAt)
          stats.maxByStatus[status] = Math.max(stats.maxByStatus[status] ?? 0, now - sentAt)
          if (status >= 200 && status < 300) stats.okAtMs.push(now - start)
        }),
      )
      res.on('error', () => {})
    })
    req.on('error', (error: NodeJS.ErrnoException) =>
      settle(() => {
        const code = error.code ?? error.message
        stats.errors[code] = (stats.errors[code] ?? 0) + 1
      }),
    )
    if (shot.abortAfterMs !== undefined) {
      timers.push(
        setTimeout(() => {
          settle(() => {
            stats.aborted++
          })
          req.destroy()
        }, shot.abortAfterMs),
      )
    }
    timers.push(
      setTimeout(() => {
        settle(() => {
          stats.errors.CLIENT_TIMEOUT = (stats.errors.CLIENT_TIMEOUT ?? 0) + 1
        })
        req.destroy()
      }, options.hardTimeoutMs ?? 30_000),
    )
    req.end(shot.body)
  })
}

/** The `q` quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}
