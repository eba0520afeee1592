/**
 * @module
 * Test helpers for running the image's command as processes on 127.0.0.1: free ports,
 * a process whose JSON log lines can be waited for, a switchable proxy standing in
 * front of a dependency. Every process is stopped by its PID.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer as createNetServer } from 'node:net'

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createNetServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** A running process and its JSON log lines. */
export interface Proc {
  pid: number
  lines: Array<Record<string, unknown>>
  /** Output lines that were not JSON. */
  other: string[]
  exited: Promise<number | null>
  /** Waits (bounded) for a line matching `predicate`. */
  waitFor(
    predicate: (l: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>
  /** SIGTERM by PID; SIGKILL after `timeoutMs`. Resolves with the exit code. */
  stop(timeoutMs?: number): Promise<number | null>
}

/** Starts `command` in `cwd` with exactly `env`. */
export function startProcess(command: string[], cwd: string, env: Record<string, string>): Proc {
  const child: ChildProcess = spawn(command[0]!, command.slice(1), {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: Array<Record<string, unknown>> = []
  const other: string[] = []
  const waiters = new Set<() => void>()
  let done = false
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffer = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      buffer += chunk
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const text = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        if (text.trim() === '') continue
        try {
          lines.push(JSON.parse(text) as Record<string, unknown>)
        } catch {
          other.push(text)
        }
      }
      for (const w of waiters) w()
    })
  }
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true
      for (const w of waiters) w()
      resolve(code)
    }),
  )
  const tail = () =>
    [...lines.slice(-10).map((l) => JSON.stringify(l)), ...other.slice(-10)].join('\n')
  return {
    pid: child.pid!,
    lines,
    other,
    exited,
    waitFor: (predicate, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find(predicate)
          if (hit !== undefined || done) {
            cleanup()
            if (hit !== undefined) resolve(hit)
            else reject(new Error(`exited before the line came:\n${tail()}`))
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`no such line within ${timeoutMs} ms:\n${tail()}`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      }),
    async stop(timeoutMs = 60_000) {
      if (done) return exited
      process.kill(child.pid!, 'SIGTERM')
      const timer = setTimeout(() => {
        if (!done) process.kill(child.pid!, 'SIGKILL')
      }, timeoutMs)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

/** How the proxy treats the next request. */
export type ProxyMode = 'pass' | 'flaky' | 'down' | 'slow'

/** A proxy in front of one dependency, switchable between behaviours. */
export interface SwitchProxy {
  url: string
  mode: ProxyMode
  close(): Promise<void>
}

/**
 * A proxy to `target`: `pass` forwards, `flaky` answers every other request 503 (never
 * two failures in a row, so retries succeed and a consecutive-failure breaker stays
 * closed), `down` answers 503 to all, `slow` forwards after 3 s.
 */
export async function switchProxy(target: string): Promise<SwitchProxy> {
  let count = 0
  const state: { mode: ProxyMode } = { mode: 'pass' }
  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const up = request(
      `${target}${req.url}`,
      { method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    up.on('error', () => res.headersSent || res.writeHead(502).end())
    req.pipe(up)
  }
  const server = createServer((req, res) => {
    const mode = state.mode
    if (mode === 'down' || (mode === 'flaky' && count++ % 2 === 0)) {
      req.resume()
      res.writeHead(503, { 'content-type': 'application/problem+json' })
      res.end('{"title":"Service Unavailable","status":503}')
    } else if (mode === 'slow') {
      const timer = setTimeout(() => forward(req, res), 3000)
      res.on('close', () => clearTimeout(timer))
    } else forward(req, res)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode
    },
    set mode(m: ProxyMode) {
      state.mode = m
    },
    close: async () => {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    },
  }
}
