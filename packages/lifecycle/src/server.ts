import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http'
import type { Http2SecureServer, Http2Server, Http2Session } from 'node:http2'
import type { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import type { Clock, TimerHandle } from '@sturdy/core'

/**
 * A listening server lifecycle can drain: what `@hono/node-server`'s `serve()`,
 * Express's `app.listen()`, Fastify's `app.server` and `http.createServer()` return —
 * HTTP/1.1 (`node:http`, `node:https`) or HTTP/2 (`node:http2`, TLS or not).
 */
export type DrainableServer = HttpServer | HttpsServer | Http2Server | Http2SecureServer

/** The current response of an HTTP/1 socket; node:http keeps it on the socket. */
interface HttpSocket extends Socket {
  _httpMessage?: ServerResponse | null
}

/** How often idle HTTP/1 connections are reaped once the listener is closed. */
const REAP_INTERVAL_MS = 250
/** GOAWAY's "last stream id" meaning "any stream you already sent will be served". */
const MAX_STREAM_ID = 2 ** 31 - 1
/** HTTP/2 error code NO_ERROR: a graceful GOAWAY. */
const NO_ERROR = 0

/**
 * The server side of a drain, for one handed-over server. It tracks connections (one
 * listener per connection, nothing per request while serving) and, when told:
 *
 * - `beginDrain()`: every HTTP/1 response from now on carries `Connection: close` (so a
 *   keep-alive client opens its next connection elsewhere), including responses
 *   already in flight whose headers are not sent yet; HTTP/2 sessions get a graceful
 *   GOAWAY (last stream id 2³¹−1: streams the client already sent are still served).
 *   `Connection: close` is set here, not by the middleware, because only the server
 *   knows the protocol (HTTP/2 forbids the header) and it also covers responses no
 *   Sturdy middleware sees (a framework's own 404).
 * - `stopAccepting()`: closes the listener once the process has accepted every
 *   connection the kernel queued and read the first request of each it accepted during
 *   the drain; node:http also closes idle keep-alive connections once, and this keeps reaping connections that become idle later (a response that
 *   started before the drain still says `keep-alive`). HTTP/2 sessions are closed
 *   gracefully (final GOAWAY, open streams finish).
 * - `forceClose()`: destroys whatever connection is left (upgraded sockets included,
 *   which `closeAllConnections()` skips) and returns how many.
 */
export class ServerDrain {
  readonly #server: DrainableServer
  readonly #clock: Clock
  readonly #secure: boolean
  readonly #sockets = new Set<Socket>()
  readonly #sessions = new Set<Http2Session>()
  #draining = false
  #accepted = false
  /**
   * HTTP/1 connections accepted during the drain that have not carried a request yet.
   * node:http's `close()` destroys every idle connection, and to it a connection whose
   * request bytes it has not read yet is idle: the client, which already sent its
   * request, sees a reset. So the listener is not closed while one is pending.
   */
  readonly #fresh = new Set<Socket>()
  readonly #closesIdle: boolean
  #listenerClosed = false
  #closed: Promise<void> | undefined
  #reaper: TimerHandle | undefined

  constructor(server: DrainableServer, clock: Clock) {
    this.#server = server
    this.#clock = clock
    // TLS servers: the socket a request lives on is the TLS socket, not the raw one.
    this.#secure = typeof (server as { setSecureContext?: unknown }).setSecureContext === 'function'
    this.#closesIdle =
      typeof (server as { closeIdleConnections?: unknown }).closeIdleConnections === 'function'
    server.on('connection', this.#onAccept)
    if (this.#secure) server.on('secureConnection', this.#track)
    server.on('session', this.#onSession)
  }

  beginDrain(): void {
    if (this.#draining) return
    this.#draining = true
    // First in line, so the header is set before any framework writes the head.
    this.#server.prependListener('request', this.#onDrainingRequest)
    for (const socket of this.#sockets) {
      const res = (socket as HttpSocket)._httpMessage
      if (res != null && !res.headersSent) res.setHeader('connection', 'close')
    }
    for (const session of this.#sessions) goAway(session)
  }

  /**
   * Closes the listener, at the first turn of the event loop that accepted no new
   * connection and left no connection accepted during the drain without its first
   * request — within `withinMs` at the latest. Closing a listening socket resets the
   * connections the kernel has queued but the process has not accepted yet, and on a
   * busy process that queue is rarely empty while clients still connect; node:http's
   * `close()` then destroys accepted connections whose request it has not read yet.
   * Waiting serves them (with `Connection: close`) instead. Resolves once every
   * connection has closed.
   */
  stopAccepting(withinMs: number): Promise<void> {
    if (this.#closed !== undefined) return this.#closed
    const server = this.#server
    this.#closed = new Promise<void>((resolve) => {
      server.once('close', () => {
        this.#stopReaping()
        resolve()
      })
    })
    if (!server.listening) {
      this.#closeListener()
      return this.#closed
    }
    const cap = this.#clock.setTimeout(() => this.#closeListener(), withinMs)
    this.#accepted = false
    const quiet = (): void => {
      if (this.#listenerClosed) return
      if (this.#accepted || this.#fresh.size > 0) {
        this.#accepted = false
        nextTurn(quiet)
        return
      }
      this.#clock.clearTimeout(cap)
      this.#closeListener()
    }
    nextTurn(quiet)
    return this.#closed
  }

  /** Destroys every connection left; returns how many there were. */
  forceClose(): number {
    this.#closeListener()
    this.#stopReaping()
    let count = 0
    // A socket already destroyed (its 'close' event still pending) is not counted.
    for (const socket of this.#sockets) if (!socket.destroyed) count++
    for (const session of this.#sessions) session.destroy()
    ;(this.#server as { closeAllConnections?: () => void }).closeAllConnections?.()
    for (const socket of this.#sockets) socket.destroy()
    return count
  }

  /** Stops listening for connections (after the drain, so the server can be collected). */
  detach(): void {
    this.#stopReaping()
    const server = this.#server
    server.off('connection', this.#onAccept)
    server.off('secureConnection', this.#track)
    server.off('session', this.#onSession)
    server.off('request', this.#onDrainingRequest)
  }

  #closeListener(): void {
    if (this.#listenerClosed) return
    this.#listenerClosed = true
    // node:http also closes idle keep-alive connections here (Node >= 19).
    this.#server.close()
    for (const session of this.#sessions) closeSession(session)
    this.#reap()
  }

  readonly #onAccept = (socket: Socket): void => {
    this.#accepted = true
    if (!this.#secure) this.#track(socket)
  }

  readonly #track = (socket: Socket): void => {
    const sockets = this.#sockets
    sockets.add(socket)
    const fresh = this.#draining && this.#closesIdle
    if (fresh) this.#fresh.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      if (fresh) this.#fresh.delete(socket)
    })
  }

  /** While draining: every HTTP/1 response closes its connection after it is sent. */
  readonly #onDrainingRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.#fresh.delete(req.socket)
    if (req.httpVersionMajor === 1 && !res.headersSent) res.setHeader('connection', 'close')
  }

  readonly #onSession = (session: Http2Session): void => {
    const sessions = this.#sessions
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
    if (this.#draining) goAway(session)
  }

  #reap(): void {
    const server = this.#server as { closeIdleConnections?: () => void }
    if (typeof server.closeIdleConnections !== 'function') return
    const tick = (): void => {
      server.closeIdleConnections?.()
      this.#reaper = this.#clock.setTimeout(tick, REAP_INTERVAL_MS)
    }
    this.#reaper = this.#clock.setTimeout(tick, REAP_INTERVAL_MS)
  }

  #stopReaping(): void {
    if (this.#reaper === undefined) return
    this.#clock.clearTimeout(this.#reaper)
    this.#reaper = undefined
  }
}

/**
 * Runs `fn` right after the event loop's next poll for I/O (the check phase), which is
 * where a listening socket's queue has just been accepted from.
 */
function nextTurn(fn: () => void): void {
  if (typeof setImmediate === 'function') setImmediate(fn)
  else setTimeout(fn, 0)
}

function goAway(session: Http2Session): void {
  if (session.closed || session.destroyed) return
  try {
    session.goaway(NO_ERROR, MAX_STREAM_ID)
  } catch {
    // The session went away between the check and the frame.
  }
}

function closeSession(session: Http2Session): void {
  if (session.closed || session.destroyed) return
  session.close()
}
