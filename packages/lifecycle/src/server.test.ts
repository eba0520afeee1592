// The connection side of a drain, on real servers on 127.0.0.1 with the drain's
// timeline on a manual clock: Connection: close, idle connections, the reaper, upgraded
// sockets, HTTP/2 GOAWAY. Every framework under 50-client load is in packages/conformance;
// a real SIGTERM to a child process is in signal.test.ts.
import { once } from 'node:events'
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http'
import { Agent, createServer, request } from 'node:http'
import type { ClientHttp2Session } from 'node:http2'
import { connect as connectH2, createServer as createH2Server } from 'node:http2'
import type { Socket } from 'node:net'
import { connect as connectTcp } from 'node:net'
import type { Middleware } from '@sturdy/core'
import type { ManualClock } from '@sturdy/core/testing'
import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/node'
import { afterEach, describe, expect, it } from 'vitest'
import type { DrainableServer, Lifecycle } from './index.ts'
import { lifecycle } from './index.ts'
import { keepAliveLoad } from './testing.ts'

const cleanup: Array<() => void> = []
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn()
})

async function listen(server: DrainableServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanup.push(() => {
    server.close()
    ;(server as Server).closeAllConnections?.()
  })
  return (server.address() as { port: number }).port
}

function setup(options: { drainDelayMs?: number; drainTimeoutMs?: number } = {}) {
  const clock: ManualClock = manualClock(0)
  const exits: number[] = []
  const life: Lifecycle = lifecycle({
    drainDelayMs: options.drainDelayMs ?? 1000,
    drainTimeoutMs: options.drainTimeoutMs ?? 5000,
    abortGraceMs: 500,
    clock,
    exit: (code) => exits.push(code),
    logger: { info() {}, warn() {}, error() {} },
  })
  return { life, clock, exits }
}

interface Answer {
  status: number
  headers: IncomingHttpHeaders
  body: string
  socket: Socket
}

function get(port: number, path: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let socket: Socket | undefined
    const req = request({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          socket: socket as Socket,
        }),
      )
      res.on('error', reject)
    })
    req.on('socket', (s: Socket) => {
      socket = s
    })
    req.on('error', reject)
    req.end()
  })
}

function closed(socket: Socket): Promise<boolean> {
  if (socket.destroyed) return Promise.resolve(true)
  return new Promise((resolve) => socket.once('close', (hadError) => resolve(!hadError)))
}

/** Waits for real I/O (a response, a close) while the drain's clock stands still. */
function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const poll = (): void => {
      if (condition()) resolve()
      else if (Date.now() - started > 5000) reject(new Error('condition not met within 5 s'))
      else setTimeout(poll, 2)
    }
    poll()
  })
}

describe('HTTP/1.1 connections during a drain', () => {
  it('every response from the drain on says Connection: close, in-flight ones included', async () => {
    const { life, clock } = setup()
    const release: Array<() => void> = []
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/hold') release.push(() => res.end('held'))
      else res.end('quick')
    })
    life.serve(server)
    const connectionListeners = server.listenerCount('connection')
    life.serve(server) // handing the same server over twice changes nothing
    expect(server.listenerCount('connection')).toBe(connectionListeners)
    const port = await listen(server)
    const agent = new Agent({ keepAlive: true })
    cleanup.push(() => agent.destroy())

    const before = await get(port, '/quick', agent)
    expect(before.headers.connection).toBe('keep-alive')
    const held = get(port, '/hold', new Agent({ keepAlive: true }))
    await until(() => release.length === 1)

    const drained = life.drain()
    const during = await get(port, '/quick', agent) // reuses the keep-alive connection
    expect(during.socket).toBe(before.socket)
    expect([during.status, during.body, during.headers.connection]).toEqual([200, 'quick', 'close'])
    expect(await closed(during.socket)).toBe(true) // closed cleanly by the server

    release[0]?.()
    const late = await held
    expect([late.body, late.headers.connection]).toEqual(['held', 'close'])

    await clock.advanceAsync(1000)
    const report = await drained
    expect(report).toMatchObject({ exitCode: 0, connectionsDestroyed: 0 })
    expect(server.listening).toBe(false)
    // The drain's own listeners are gone.
    expect(server.listenerCount('request')).toBe(1)
    expect(server.listenerCount('connection')).toBe(connectionListeners - 1)
  })

  it('closes idle keep-alive connections when the listener closes; new connections are refused', async () => {
    const { life, clock } = setup()
    const server = createServer((_req, res) => res.end('ok'))
    life.serve(server)
    const port = await listen(server)
    const agent = new Agent({ keepAlive: true })
    cleanup.push(() => agent.destroy())
    const idle = (await get(port, '/', agent)).socket
    const drained = life.drain()
    await clock.advanceAsync(999)
    expect(idle.destroyed).toBe(false) // still open during the delay
    await clock.advanceAsync(1)
    expect(await closed(idle)).toBe(true)
    await expect(get(port, '/', new Agent())).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(await drained).toMatchObject({ exitCode: 0, connectionsDestroyed: 0 })
  })

  it('keeps reaping: a keep-alive response begun before the drain is closed once idle, not after keepAliveTimeout', async () => {
    const { life, clock } = setup()
    let finish: (() => void) | undefined
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('part one, ')
      finish = () => res.end('part two')
    })
    server.keepAliveTimeout = 60_000
    life.serve(server)
    const port = await listen(server)
    const agent = new Agent({ keepAlive: true })
    cleanup.push(() => agent.destroy())
    const streaming = get(port, '/', agent)
    await until(() => finish !== undefined)
    let report: unknown
    void life.drain().then((r) => {
      report = r
    })
    await clock.advanceAsync(1000) // listener closed, the response still streaming
    finish?.()
    const answer = await streaming
    expect([answer.body, answer.headers.connection]).toEqual(['part one, part two', 'keep-alive'])
    expect(answer.socket.destroyed).toBe(false)
    await clock.advanceAsync(250) // one reap
    expect(await closed(answer.socket)).toBe(true)
    await until(() => report !== undefined)
    expect(report).toMatchObject({ exitCode: 0, connectionsDestroyed: 0, durationMs: 1250 })
  })

  it('keeps the listener open while a connection accepted during the drain has not sent its request', async () => {
    const { life, clock } = setup()
    const server = createServer((_req, res) => res.end('served'))
    life.serve(server)
    const port = await listen(server)
    const drained = life.drain()
    const accepted = once(server, 'connection')
    const socket = connectTcp(port, '127.0.0.1')
    cleanup.push(() => socket.destroy())
    let received = ''
    socket.on('data', (d) => {
      received += d.toString()
    })
    await accepted
    await clock.advanceAsync(1000) // the delay is over, but that connection is still fresh
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(server.listening).toBe(true)
    expect(socket.destroyed).toBe(false)
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n')
    await closed(socket)
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
    expect(received.toLowerCase()).toContain('connection: close')
    expect(received).toMatch(/served$/)
    expect(server.listening).toBe(false)
    expect(await drained).toMatchObject({ exitCode: 0, connectionsDestroyed: 0 })
  })

  it('destroys what is left at the bound, upgraded sockets included, and counts them', async () => {
    const { life, clock } = setup({ drainDelayMs: 0, drainTimeoutMs: 1000 })
    const server = createServer((_req, res) => res.end())
    server.on('upgrade', (_req, socket: Socket) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n',
      )
      socket.on('data', (d) => socket.write(d))
    })
    life.serve(server)
    const port = await listen(server)
    const upgraded = connectTcp(port, '127.0.0.1')
    cleanup.push(() => upgraded.destroy())
    upgraded.write('GET / HTTP/1.1\r\nhost: x\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n')
    let received = ''
    upgraded.on('data', (d) => {
      received += d.toString()
    })
    upgraded.on('error', () => {})
    await until(() => received.includes('101'))
    let report: unknown
    void life.drain().then((r) => {
      report = r
    })
    await clock.advanceAsync(1000) // the upgraded socket holds the server open
    expect(upgraded.destroyed).toBe(false)
    await clock.advanceAsync(500)
    await closed(upgraded)
    await until(() => report !== undefined)
    expect(report).toMatchObject({ exitCode: 0, connectionsDestroyed: 1, aborted: 0 })
  })

  it('a request still running at the bound is answered 503 through the node adapter, on a closing connection', async () => {
    const { life, clock } = setup({ drainDelayMs: 0, drainTimeoutMs: 1000 })
    let started = false
    const server = createServer(
      sturdy(
        (_req, res) => {
          started = true
          // Never answers on its own.
          res.on('close', () => {})
        },
        { middleware: [life.middleware()] },
      ),
    )
    life.serve(server)
    const port = await listen(server)
    const answer = get(port, '/stuck', new Agent({ keepAlive: true }))
    await until(() => started)
    const drained = life.drain()
    await clock.advanceAsync(1000)
    const res = await answer
    expect([res.status, res.headers['retry-after'], res.headers.connection]).toEqual([
      503,
      '1',
      'close',
    ])
    expect(JSON.parse(res.body)).toMatchObject({ status: 503, code: 'SHUTDOWN' })
    await clock.advanceAsync(500)
    expect(await drained).toMatchObject({ exitCode: 0, aborted: 1, inFlight: 1 })
  })
})

describe('HTTP/2 during a drain', () => {
  it('sends GOAWAY at once, serves the streams in flight, then closes the session', async () => {
    const { life, clock } = setup()
    const release: Array<() => void> = []
    const server = createH2Server((req, res) => {
      if (req.url === '/hold') release.push(() => res.end('held'))
      else res.end('quick')
    })
    life.serve(server)
    const port = await listen(server)
    const session: ClientHttp2Session = connectH2(`http://127.0.0.1:${port}`)
    cleanup.push(() => session.destroy())
    const fetchH2 = (path: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const stream = session.request({ ':path': path })
        let status = 0
        let body = ''
        stream.on('response', (headers) => {
          status = Number(headers[':status'])
        })
        stream.setEncoding('utf8')
        stream.on('data', (chunk: string) => {
          body += chunk
        })
        stream.on('end', () => resolve({ status, body }))
        stream.on('error', reject)
      })
    expect(await fetchH2('/quick')).toEqual({ status: 200, body: 'quick' })
    const held = fetchH2('/hold')
    await until(() => release.length === 1)
    let goaway: number | undefined
    session.on('goaway', (code) => {
      goaway = code
    })
    const drained = life.drain()
    await until(() => goaway !== undefined)
    expect(goaway).toBe(0) // NO_ERROR: graceful
    release[0]?.()
    expect(await held).toEqual({ status: 200, body: 'held' })
    await clock.advanceAsync(1000)
    await until(() => session.closed || session.destroyed)
    expect(await drained).toMatchObject({ exitCode: 0, connectionsDestroyed: 0 })
  })
})

describe('under load from clients that never leave (wrk-like)', () => {
  it('every request the server accepted gets a complete response; the rest are refused or never accepted', async () => {
    const exits: number[] = []
    const life = lifecycle({
      drainDelayMs: 300,
      drainTimeoutMs: 1000,
      abortGraceMs: 200,
      exit: (code) => exits.push(code),
      logger: { info() {}, warn() {}, error() {} },
    })
    let accepted = 0
    const count: Middleware = async function count(_ex, next) {
      accepted++
      await next()
    }
    const server = createServer(
      sturdy((_req, res) => void setTimeout(() => res.end('ok'), 2), {
        middleware: [count, life.middleware()],
      }),
    )
    life.serve(server)
    const port = await listen(server)
    // No fallback: every client keeps reconnecting to this server, as wrk does.
    const load = keepAliveLoad({ target: `http://127.0.0.1:${port}`, clients: 50 })
    await load.untilTargetServed(200)
    const report = await life.drain()
    const result = await load.stop()
    expect(result.fromTarget).toBe(accepted)
    expect(result.sent).toBe(result.fromTarget + result.failures.length)
    // What cannot be served: connections after the listener closed (refused), and ones
    // the kernel queued that the process never accepted (reset, never seen by Node).
    expect(result.failures.filter((f) => f.kind === 'other')).toEqual([])
    expect(report.exitCode).toBe(0)
    expect(exits).toEqual([0])
  })
})
