/**
 * @module
 * Test helpers of this package (not published): the real redis-server the vitest global
 * setup started, and ioredis connections to it that tests close.
 */

import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { Redis } from 'ioredis'
import { describe, inject } from 'vitest'
import type {} from '../../../scripts/redis-global-setup.ts'
import type { RedisClient } from './redis-client.ts'
import { ioredisClient } from './redis-client.ts'

/** The shared test Redis, or '' when redis-server could not be installed. */
export const REDIS_URL: string = inject('redisUrl')

/**
 * `describe` for tests that need Redis: skipped only when redis-server cannot be
 * installed here, with the reason in the suite's name.
 */
export function describeRedis(name: string, fn: () => void): void {
  if (REDIS_URL !== '') describe(name, fn)
  else describe.skip(`${name} — skipped: ${inject('redisSkipReason')}`, fn)
}

/** An ioredis connection for one test, and the store client over it. */
export interface TestConnection {
  readonly redis: Redis
  readonly client: RedisClient
  close(): Promise<void>
}

/**
 * Connects to `url` (the shared test Redis by default) with the settings the README
 * recommends: no offline queue and no per-command retries, so a dead Redis fails fast.
 */
export async function connect(url: string = REDIS_URL): Promise<TestConnection> {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
    retryStrategy: () => 50,
  })
  await redis.connect()
  return {
    redis,
    client: ioredisClient(redis),
    async close() {
      redis.disconnect()
    },
  }
}

/** A prefix no other test uses, so tests sharing the Redis never see each other's keys. */
export function uniquePrefix(): string {
  return `test:${Math.random().toString(36).slice(2)}:`
}

/** Server processes started by a test, on 127.0.0.1. */
export interface Replicas {
  /** `http://127.0.0.1:PORT` of each. */
  readonly urls: readonly string[]
  /** Ends every process by PID (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>
}

/**
 * Starts `count` copies of a TypeScript program (through tsx) that prints
 * `listening <port>` once it serves, and waits (up to 30 s) until all of them do.
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
    const timer = setTimeout(() => reject(new Error('replica did not listen within 30 s')), 30_000)
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
