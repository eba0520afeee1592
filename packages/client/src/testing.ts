/**
 * Test helpers (not exported): real `node:http` servers on 127.0.0.1 that count their
 * connections and requests, and are closed by the test that started them.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface TestServer {
  readonly url: string
  readonly origin: string
  readonly port: number
  /** Connections accepted so far. */
  connections(): number
  /** Connections open now. */
  open(): number
  /** Requests received so far. */
  requests(): number
  /** Headers of every request received, in order. */
  readonly seen: IncomingMessage['headers'][]
  readonly server: Server
  close(): Promise<void>
}

export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void

/** Starts a server on 127.0.0.1; `handler` gets each request and its 1-based number. */
export async function startServer(handler: Handler): Promise<TestServer> {
  let accepted = 0
  let received = 0
  const sockets = new Set<Socket>()
  const seen: IncomingMessage['headers'][] = []
  const server = createServer((req, res) => {
    received++
    seen.push(req.headers)
    handler(req, res, received)
  })
  server.keepAliveTimeout = 30_000
  server.on('connection', (socket) => {
    accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  const origin = `http://127.0.0.1:${port}`
  return {
    url: origin,
    origin,
    port,
    connections: () => accepted,
    open: () => sockets.size,
    requests: () => received,
    seen,
    server,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Answers JSON. */
export function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

/** Resolves after `ms` (for servers that must be slow; never used to wait for the client). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
