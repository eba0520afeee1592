/**
 * Test helpers (not exported): a real HTTP/2 server on 127.0.0.1 serving Connect
 * routes over gRPC, gRPC-Web and the Connect protocol, closed by the test that started it.
 */
import type { Http2Server, Http2Session } from 'node:http2'
import { createServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import type { ConnectRouter, Interceptor } from '@connectrpc/connect'
import { connectNodeAdapter } from '@connectrpc/connect-node'

export interface TestServer {
  readonly baseUrl: string
  readonly port: number
  readonly server: Http2Server
  /** HTTP/2 sessions open now. */
  sessions(): number
  close(): Promise<void>
}

export interface TestServerOptions {
  readonly interceptors?: Interceptor[]
  readonly readMaxBytes?: number
  readonly shutdownSignal?: AbortSignal
}

/** Starts an h2c server on 127.0.0.1 with `routes`. */
export async function startServer(
  routes: (router: ConnectRouter) => void,
  options: TestServerOptions = {},
): Promise<TestServer> {
  const sessions = new Set<Http2Session>()
  const server = createServer(
    connectNodeAdapter({
      routes,
      interceptors: options.interceptors ?? [],
      ...(options.readMaxBytes === undefined ? {} : { readMaxBytes: options.readMaxBytes }),
      ...(options.shutdownSignal === undefined ? {} : { shutdownSignal: options.shutdownSignal }),
    }),
  )
  server.on('session', (session) => {
    sessions.add(session)
    session.on('close', () => sessions.delete(session))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    port,
    server,
    sessions: () => sessions.size,
    async close() {
      for (const s of sessions) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A promise and its resolver, for handlers that wait for a test's say-so. */
export function deferred<T = void>(): {
  promise: Promise<T>
  resolve: (value: T) => void
} {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** Resolves once `signal` aborts, with its reason. */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason)
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true })
  })
}
