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

/**
 * A port whose connections never complete: a listener in a child process, stopped
 * (SIGSTOP) with its accept queue filled, so the kernel drops further SYNs and a connect
 * hangs until the client's connect timeout. 127.0.0.1 only, no routing tricks.
 */
export async function stalledPort(): Promise<{ port: number; close(): void }> {
  const { spawn } = await import('node:child_process')
  const net = await import('node:net')
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer(()=>{});s.listen({port:0,host:'127.0.0.1',backlog:1},()=>process.stdout.write(s.address().port+'\\n'))",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const port = await new Promise<number>((resolve) =>
    child.stdout?.once('data', (d) => resolve(Number(String(d).trim()))),
  )
  process.kill(child.pid as number, 'SIGSTOP')
  const fillers = Array.from({ length: 4 }, () =>
    net.connect(port, '127.0.0.1').on('error', () => {}),
  )
  await delay(100)
  return {
    port,
    close() {
      for (const f of fillers) f.destroy()
      child.kill('SIGKILL')
    },
  }
}
