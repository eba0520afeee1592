/**
 * Server processes for multi-replica tests: copies of a TypeScript program (run through
 * tsx) on 127.0.0.1, each printing `listening <port>` once it serves, ended by PID.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'

/** Server processes started by a test, on 127.0.0.1. */
export interface Replicas {
  /** `http://127.0.0.1:PORT` of each. */
  readonly urls: readonly string[]
  /** Ends every process by PID (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>
}

/**
 * Starts `count` copies of a TypeScript program (through tsx) that prints
 * `listening <port>` once it serves, and waits (up to 90 s: tsx transpiles on start, which
 * is slow on a loaded machine) until all of them do.
 *
 * @param file the program
 * @param count how many
 * @param env extra environment for each
 */
export async function startReplicas(
  file: string,
  count: number,
  env: Record<string, string>,
): Promise<Replicas> {
  const children: ChildProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(stopProcess))
  }
  try {
    const urls = await Promise.all(
      Array.from({ length: count }, () => {
        const child = spawn(process.execPath, ['--import', 'tsx', file], {
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'inherit'],
        })
        children.push(child)
        return listeningUrl(child)
      }),
    )
    return { urls, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error('replica did not listen within 90 s')), 90_000)
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /listening (\d+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve(`http://127.0.0.1:${m[1]}`)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`replica exited with ${code} before listening`))
    })
  })
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 5000)
  })
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL')
    await exited
  }
  clearTimeout(timer)
}
