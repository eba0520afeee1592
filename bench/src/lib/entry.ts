/**
 * Helpers for the processes the suite starts (servers and workers). They talk to the
 * orchestrator over the IPC channel only, so nothing is written to a terminal on the
 * hot path.
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'

// Exit when the orchestrator goes away (even mid-start-up: no orphaned servers), and
// exit normally on SIGTERM so `--cpu-prof` gets to write its profile.
if (process.send !== undefined) process.on('disconnect', () => process.exit(0))
process.on('SIGTERM', () => process.exit(0))

/** What a server tells the orchestrator once it listens. */
export interface Ready {
  readonly type: 'ready'
  readonly port: number
  /** Pieces of the contender that could not be wired (a Sturdy package not there yet). */
  readonly missing: readonly string[]
  /** Human-readable list of what is mounted, in order. */
  readonly stack: readonly string[]
}

/** Figures a process reports about itself. */
export interface SelfStats {
  readonly type: 'stats'
  readonly rssBytes: number
  readonly heapUsedBytes: number
  /** Peak RSS (VmHWM) on Linux. */
  readonly peakRssBytes: number | undefined
  /** CPU time this process has used (user + system), in microseconds. */
  readonly cpuUs: number
  readonly extra: Readonly<Record<string, number>>
}

/** Reads peak RSS from /proc; undefined off Linux. */
function peakRss(): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** Collects this process's memory figures, after a full GC when `--expose-gc` is on. */
export function selfStats(extra: Record<string, number> = {}, collect = false): SelfStats {
  const gc = (globalThis as { gc?: () => void }).gc
  if (collect && gc !== undefined) {
    gc()
    gc()
  }
  const mem = process.memoryUsage()
  const cpu = process.cpuUsage()
  return {
    cpuUs: cpu.user + cpu.system,
    type: 'stats',
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    peakRssBytes: peakRss(),
    extra,
  }
}

/** Sends a message to the orchestrator (no-op when started by hand without IPC). */
export function send(message: object): void {
  process.send?.(message)
}

/**
 * Announces a listening server and answers `stats` requests. `extra` supplies
 * contender-specific counters (spans exported, log bytes written) so the orchestrator
 * can check that the stack really did its work.
 */
export function announce(
  server: { address(): AddressInfo | string | null },
  info: { missing: readonly string[]; stack: readonly string[] },
  extra: () => Record<string, number> = () => ({}),
): void {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  process.on('message', (msg: { type?: string; collect?: boolean }) => {
    if (msg.type === 'stats') send(selfStats(extra(), msg.collect === true))
  })
  const ready: Ready = { type: 'ready', port, missing: info.missing, stack: info.stack }
  send(ready)
}

/** The port to listen on: `PORT` from the orchestrator, else 0 (any free port). */
export function port(): number {
  return Number(process.env.PORT ?? 0)
}

/** The log file a contender writes to (never a terminal), from `BENCH_LOG`. */
export function logFile(): string {
  return process.env.BENCH_LOG ?? '/dev/null'
}

/** The small JSON body every route returns. */
export function user(id: string): { id: string; name: string; active: boolean } {
  return { id, name: 'Ada Lovelace', active: true }
}
