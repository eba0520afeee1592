import { execFile, execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BENCH_DIR } from './build.ts'
import { pinned } from './child.ts'
import { type LoadResult, parseAutocannon, parseWrk } from './wrk.ts'

const run = promisify(execFile)

/** A load generator: wrk, or autocannon when wrk cannot be had. */
export interface LoadGenerator {
  readonly name: string
  readonly version: string
  run(url: string, durationSec: number, connections: number, cpu: string): Promise<LoadResult>
}

function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (error) {
    // wrk --version exits 1 after printing; ENOENT is the only "missing".
    return (error as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}

/**
 * Picks the load generator. wrk (C, one thread, its own core) disturbs the server least,
 * so it is preferred; when it is missing and we are root it is installed from Debian.
 */
export function loadGenerator(
  choice: 'auto' | 'wrk' | 'autocannon',
  log: (s: string) => void,
): LoadGenerator {
  if (choice !== 'autocannon') {
    if (!hasWrk() && process.getuid?.() === 0) {
      log('wrk not found; installing it from Debian (apt-get install -y wrk)')
      try {
        execFileSync(
          'sh',
          [
            '-c',
            'apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)',
          ],
          {
            stdio: 'ignore',
          },
        )
      } catch {
        log('could not install wrk')
      }
    }
    if (hasWrk()) return wrk()
    if (choice === 'wrk') throw new Error('wrk is not installed and could not be installed')
    log('wrk unavailable: falling back to autocannon')
  }
  return autocannon()
}

function wrk(): LoadGenerator {
  let version = 'wrk'
  try {
    execFileSync('wrk', ['--version'], { encoding: 'utf8' })
  } catch (error) {
    const out = String((error as { stdout?: string }).stdout ?? '')
    version = /^wrk \S+/.exec(out)?.[0] ?? 'wrk'
  }
  return {
    name: 'wrk',
    version,
    async run(url, durationSec, connections, cpu) {
      const [cmd, args] = pinned(cpu, [
        'wrk',
        '-t1',
        `-c${connections}`,
        // wrk takes whole seconds only.
        `-d${Math.max(1, Math.round(durationSec))}s`,
        '--timeout',
        '5s',
        '--latency',
        url,
      ])
      const { stdout } = await run(cmd, args, { maxBuffer: 1 << 20 })
      return parseWrk(stdout)
    },
  }
}

function autocannon(): LoadGenerator {
  const bin = join(BENCH_DIR, 'node_modules', '.bin', 'autocannon')
  return {
    name: 'autocannon',
    version: 'autocannon 9',
    async run(url, durationSec, connections, cpu) {
      const [cmd, args] = pinned(cpu, [
        bin,
        '--json',
        '-c',
        String(connections),
        '-d',
        String(Math.max(1, Math.round(durationSec))),
        url,
      ])
      const { stdout } = await run(cmd, args, { maxBuffer: 16 << 20 })
      return parseAutocannon(stdout)
    },
  }
}
