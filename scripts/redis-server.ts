/**
 * A real redis-server for tests: Debian's package, installed with apt-get when it is
 * missing and this process may (root), started on a free 127.0.0.1 port with nothing
 * persisted, and stopped by its PID. Used by the vitest global setup of the packages
 * with Redis stores (`redis-global-setup.ts`) and by tests that stop Redis mid-test.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.ts'

/** A running redis-server this process started. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  readonly pid: number
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void
  /** Thaws a paused server (SIGCONT). */
  resume(): void
  /** Stops the server by PID (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>
}

/** Thrown when redis-server is missing and cannot be installed here. */
export class RedisUnavailableError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RedisUnavailableError'
  }
}

/**
 * Makes sure `redis-server` can run: returns at once when it is on the PATH, otherwise
 * installs Debian's package when running as root with apt-get.
 *
 * @throws RedisUnavailableError when it is missing and cannot be installed
 */
export function ensureRedisServer(): void {
  if (hasRedis()) return
  if (process.platform !== 'linux' || process.getuid?.() !== 0 || !has('apt-get')) {
    throw new RedisUnavailableError(
      'redis-server is not installed, and this process cannot apt-get install it (needs root on Debian/Ubuntu)',
    )
  }
  const apt = (args: string[]): boolean =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300_000,
    }).status === 0
  const install = ['install', '-y', '--no-install-recommends', 'redis-server']
  if (!apt(install) && !(apt(['update']) && apt(install))) {
    throw new RedisUnavailableError(
      'redis-server is not installed, and apt-get install redis-server failed',
    )
  }
  if (!hasRedis())
    throw new RedisUnavailableError('apt-get installed redis-server, but it does not run')
}

/**
 * Starts a redis-server on a free 127.0.0.1 port and waits until it answers PING.
 *
 * @throws RedisUnavailableError when redis-server cannot be installed
 */
export async function startRedisServer(): Promise<RedisServer> {
  ensureRedisServer()
  let lastError: unknown
  // A free port can be taken between finding and binding it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'sturdy-redis-'))
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
        '--logfile',
        '',
      ],
      { stdio: 'ignore' },
    )
    try {
      await waitForPing(port, child)
    } catch (error) {
      lastError = error
      await stopChild(child)
      rmSync(dir, { recursive: true, force: true })
      continue
    }
    const pid = child.pid as number
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      pid,
      pause: () => process.kill(pid, 'SIGSTOP'),
      resume: () => process.kill(pid, 'SIGCONT'),
      async stop() {
        await stopChild(child)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  throw new Error(`redis-server did not start: ${String(lastError)}`)
}

function hasRedis(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

/** Polls PING every 20 ms for up to 5 s; fails early if the process exits. */
async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode})`)
    }
    if (await ping(port)) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 5 s`)
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    let answer = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      answer += chunk.toString()
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'))
    })
  })
}

/** SIGTERM (after SIGCONT, in case it was paused), then SIGKILL if it lingers 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGCONT')
  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), 5000)
  })
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL')
    await exited
  }
  clearTimeout(timer)
}
