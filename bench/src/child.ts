import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'

let tasksetOk: boolean | undefined

/** True when `taskset` can pin processes here (it cannot in some containers). */
export function canPin(): boolean {
  if (tasksetOk === undefined) {
    try {
      execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
      tasksetOk = true
    } catch {
      tasksetOk = false
    }
  }
  return tasksetOk
}

/** The command line for `argv`, pinned to `cpu` when taskset works. */
export function pinned(cpu: string, argv: readonly string[]): [string, string[]] {
  return canPin() ? ['taskset', ['-c', cpu, ...argv]] : [argv[0] as string, argv.slice(1)]
}

/** A process the suite started, spoken to over IPC. */
export interface Child {
  readonly process: ChildProcess
  /** The first message of the given type, or a rejection when the process dies first. */
  next<T extends { type: string }>(type: string, timeoutMs?: number): Promise<T>
  /** Sends a message and waits for the reply of `replyType`. */
  ask<T extends { type: string }>(
    message: object,
    replyType: string,
    timeoutMs?: number,
  ): Promise<T>
  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>
  /** What the process wrote to stderr (its last 4 kB), for error reports. */
  stderr(): string
}

/** Starts `node [flags] file` pinned to `cpu`, with an IPC channel. */
export function startChild(
  node: string,
  file: string,
  cpu: string,
  env: Record<string, string>,
  nodeFlags: readonly string[] = [],
): Child {
  const [cmd, args] = pinned(cpu, [node, ...nodeFlags, file])
  const proc = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', ...env },
  })
  let err = ''
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err = (err + chunk).slice(-4096)
  })
  // A send to a process that already died emits 'error'; keep it for the report instead
  // of letting an unhandled 'error' event end the whole run.
  proc.on('error', (error) => {
    err = `${err}\n${String(error)}`.slice(-4096)
  })
  const inbox: { type: string }[] = []
  const waiters: { type: string; resolve: (m: never) => void }[] = []
  proc.on('message', (msg: { type: string }) => {
    const i = waiters.findIndex((w) => w.type === msg.type)
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(msg as never)
    else inbox.push(msg)
  })
  const exited = once(proc, 'exit')
  // Generous: a bundle starting on a 2-core machine shared with other builds can take tens of seconds.
  const next = <T extends { type: string }>(type: string, timeoutMs = 120_000): Promise<T> => {
    const i = inbox.findIndex((m) => m.type === type)
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0] as T)
    return new Promise<T>((resolve, reject) => {
      const waiter = { type, resolve: resolve as (m: never) => void }
      waiters.push(waiter)
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1)
        reject(new Error(`${file}: no '${type}' within ${timeoutMs} ms\n${err}`))
      }, timeoutMs)
      const clear = (): void => clearTimeout(timer)
      waiter.resolve = ((m: T) => {
        clear()
        resolve(m)
      }) as (m: never) => void
      exited.then(([code]) => {
        clear()
        reject(new Error(`${file} exited (${code}) before '${type}'\n${err}`))
      })
    })
  }
  return {
    process: proc,
    next,
    ask(message, replyType, timeoutMs) {
      const reply = next(replyType, timeoutMs)
      proc.send(message)
      return reply as never
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      proc.kill('SIGTERM')
      // Generous: a server under --cpu-prof writes its profile on the way out.
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
    stderr: () => err,
  }
}
