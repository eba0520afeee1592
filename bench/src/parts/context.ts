import type { Availability } from '../build.ts'
import type { BenchConfig, RuntimeName } from '../config.ts'
import type { LoadGenerator } from '../load.ts'
import type { Runtime } from '../runtimes.ts'

/** What every part gets from the CLI. */
export interface PartContext {
  readonly config: BenchConfig
  /** The runtimes that could be found, by name; missing ones carry a reason. */
  readonly runtimes: Readonly<Record<RuntimeName, Runtime | { name: RuntimeName; reason: string }>>
  readonly availability: Availability
  /** Lazily created: parts that need no HTTP load never install wrk. */
  loadGenerator(): LoadGenerator
  log(line: string): void
}

/** A contender that could not be measured, and why. Never replaced by a made-up figure. */
export interface Unmeasured {
  readonly status: 'null'
  readonly reason: string
}

/** The runtimes of `names` that exist, in order. */
export function available(ctx: PartContext, names: readonly RuntimeName[]): Runtime[] {
  const out: Runtime[] = []
  for (const name of names) {
    const r = ctx.runtimes[name]
    if ('node' in r) out.push(r)
  }
  return out
}

/** Rotates a list by `k`: round k starts with a different contender, so order bias cancels. */
export function rotate<T>(list: readonly T[], k: number): T[] {
  if (list.length === 0) return []
  const s = k % list.length
  return [...list.slice(s), ...list.slice(0, s)]
}

/** True when `name` passes the `--only` filter. */
export function selected(ctx: PartContext, name: string): boolean {
  return ctx.config.only.length === 0 || ctx.config.only.some((o) => name.includes(o))
}
