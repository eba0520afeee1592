/**
 * @module
 * Test helpers of this package (not published): the real redis-server the vitest global
 * setup started, and a TCP proxy to cut one replica off it.
 */

import type { Socket } from 'node:net'
import { connect, createServer } from 'node:net'
import { describe, inject } from 'vitest'
import type {} from '../../../scripts/redis-global-setup.ts'

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

/** A TCP proxy on 127.0.0.1 in front of a server, whose connections a test can cut. */
export interface TcpProxy {
  /** `redis://127.0.0.1:PORT` of the proxy. */
  readonly url: string
  /** Drops every connection through it and refuses new ones (the peer reconnects in vain). */
  cut(): void
  /** Accepts connections again. */
  restore(): void
  /** Closes it and every connection through it. */
  close(): Promise<void>
}

/**
 * Starts a TCP proxy to `127.0.0.1:port`: a real network path for one replica that can be
 * cut and restored while the others keep theirs.
 */
export async function tcpProxy(port: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let open = true
  const track = (s: Socket): void => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }
  const server = createServer((client) => {
    track(client)
    if (!open) {
      client.destroy()
      return
    }
    const upstream = connect({ host: '127.0.0.1', port })
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const proxyPort = typeof address === 'object' && address !== null ? address.port : 0
  const dropAll = (): void => {
    for (const s of sockets) s.destroy()
  }
  return {
    url: `redis://127.0.0.1:${proxyPort}`,
    cut() {
      open = false
      dropAll()
    },
    restore() {
      open = true
    },
    close: () =>
      new Promise<void>((resolve) => {
        dropAll()
        server.close(() => resolve())
      }),
  }
}
