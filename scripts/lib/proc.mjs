// Child processes for the CI scripts: run one with a time limit and capture its output,
// and run many through a bounded pool. Every child is started in its own process group
// and, on timeout, that group (and only it) is killed by its id.
import { spawn } from 'node:child_process'

/**
 * Runs a command, resolving (never rejecting) with its exit code and output.
 *
 * @param {string} cmd
 * @param {readonly string[]} args
 * @param {{ cwd?: string, env?: NodeJS.ProcessEnv, timeoutMs?: number, input?: string, echo?: boolean }} [options]
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean, ms: number }>}
 */
export function run(cmd, args, options = {}) {
  const { cwd, env, timeoutMs = 10 * 60_000, input, echo = false } = options
  const started = performance.now()
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd,
      env: env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (d) => {
      stdout += d
      if (echo) process.stdout.write(d)
    })
    child.stderr.on('data', (d) => {
      stderr += d
      if (echo) process.stderr.write(d)
    })
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child.pid)
    }, timeoutMs)
    child.on('error', (error) => {
      stderr += `\n${error.message}`
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      // A finished leader may leave children behind (a server a README block started).
      killGroup(child.pid)
      resolve({ code, signal, stdout, stderr, timedOut, ms: performance.now() - started })
    })
    child.stdin.on('error', () => {})
    child.stdin.end(input ?? '')
  })
}

function killGroup(pid) {
  if (pid === undefined) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/**
 * Runs `tasks` (functions returning promises) with at most `limit` in flight, keeping
 * the results in order.
 *
 * @template T
 * @param {number} limit
 * @param {ReadonlyArray<() => Promise<T>>} tasks
 * @returns {Promise<T[]>}
 */
export async function pool(limit, tasks) {
  const results = new Array(tasks.length)
  let next = 0
  async function worker() {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]()
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker))
  return results
}

/** The last `max` characters of a text, for failure details. */
export function tail(text, max = 2000) {
  const t = text.trim()
  return t.length <= max ? t : `…${t.slice(-max)}`
}

/** Seconds with one decimal, for timing lines. */
export function secs(ms) {
  return `${(ms / 1000).toFixed(1)} s`
}
