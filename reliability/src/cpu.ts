/**
 * Where the machine's CPU went: each process's user + system time and the machine's idle
 * and steal time, from `/proc` (Linux only), so a figure like goodput can be read against
 * the CPU each part of the system spent on it. Nothing is injected into the processes.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

/** CPU time in ms: per group of processes, and the machine's idle, steal and total. */
export interface CpuSample {
  groups: Record<string, number>
  idle: number
  steal: number
  total: number
}

/** Reads the CPU times of named groups of processes (each a root and its descendants). */
export interface CpuMeter {
  sample(): CpuSample
}

/** `getconf CLK_TCK`, the unit of `/proc`'s times (100 on Linux almost everywhere). */
function ticksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
}

/** The fields of `/proc/<pid>/stat` after the command name (which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined // exited meanwhile
  }
}

/**
 * A meter of the process trees rooted at each group's pids, or undefined where `/proc` is
 * not there to read (not Linux). A process is counted in the first group whose tree
 * holds it; descendants are looked up at every sample, so a database's backends that
 * connect later are counted too.
 */
export function cpuMeter(roots: Record<string, number[]>): CpuMeter | undefined {
  if (statFields(process.pid) === undefined) return undefined
  const msPerTick = 1000 / ticksPerSecond()
  return {
    sample() {
      const parent = new Map<number, number>()
      const time = new Map<number, number>()
      for (const entry of readdirSync('/proc')) {
        const c = entry.charCodeAt(0)
        if (c < 48 || c > 57) continue
        const f = statFields(Number(entry))
        if (f === undefined) continue
        // ppid is the 4th field, utime and stime the 14th and 15th (from 1, name 2nd).
        parent.set(Number(entry), Number(f[1]))
        time.set(Number(entry), (Number(f[11]) + Number(f[12])) * msPerTick)
      }
      const children = new Map<number, number[]>()
      for (const [pid, ppid] of parent) {
        const list = children.get(ppid)
        if (list === undefined) children.set(ppid, [pid])
        else list.push(pid)
      }
      const seen = new Set<number>()
      const groups: Record<string, number> = {}
      for (const [name, pids] of Object.entries(roots)) {
        let sum = 0
        const stack = [...pids]
        while (stack.length > 0) {
          const pid = stack.pop()!
          if (seen.has(pid) || !time.has(pid)) continue
          seen.add(pid)
          sum += time.get(pid)!
          stack.push(...(children.get(pid) ?? []))
        }
        groups[name] = sum
      }
      // cpu  user nice system idle iowait irq softirq steal ...
      const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.split(/\s+/).slice(1)
      const ticks = cpu.slice(0, 8).map(Number)
      return {
        groups,
        idle: (ticks[3]! + ticks[4]!) * msPerTick,
        steal: ticks[7]! * msPerTick,
        total: ticks.reduce((a, b) => a + b, 0) * msPerTick,
      }
    },
  }
}

/**
 * CPU spent between two samples, in ms: per group, then `idle`, `steal` and `other` (the
 * kernel's own work and every process outside the groups) and `total` (the machine's).
 */
export function cpuSpent(a: CpuSample, b: CpuSample): Record<string, number> {
  const spent: Record<string, number> = {}
  let counted = 0
  for (const name of Object.keys(b.groups)) {
    spent[name] = Math.max(0, b.groups[name]! - (a.groups[name] ?? 0))
    counted += spent[name]
  }
  const idle = b.idle - a.idle
  const steal = b.steal - a.steal
  const total = b.total - a.total
  return { ...spent, idle, steal, other: Math.max(0, total - idle - steal - counted), total }
}

/** CPU spent over several windows, with the requests served in them. */
export class CpuTally {
  /** ms per key of `cpuSpent`, summed. */
  readonly ms: Record<string, number> = {}
  served = 0

  /** Adds the window between two samples, in which `served` requests were served. */
  add(a: CpuSample, b: CpuSample, served: number): void {
    for (const [k, v] of Object.entries(cpuSpent(a, b))) this.ms[k] = (this.ms[k] ?? 0) + v
    this.served += served
  }

  /** µs of CPU per request served, per key (empty before any window). */
  perRequestUs(): Record<string, number> {
    const out: Record<string, number> = {}
    if (this.served === 0) return out
    for (const [k, v] of Object.entries(this.ms)) out[k] = Math.round((v * 1000) / this.served)
    return out
  }
}
