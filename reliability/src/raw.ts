/**
 * Raw HTTP/1.1 over a TCP socket, for what a well-behaved client cannot send: smuggling
 * attempts, control characters in headers, bodies that stop short or dribble in.
 */
import { connect } from 'node:net'

/** What came back on the socket. */
export interface RawResult {
  /** Every byte received, as latin1 text. */
  text: string
  /** Status codes of each response found, in order. */
  statuses: number[]
  /** The first response's headers (lower-case names) and body. */
  headers: Record<string, string>
  body: string
  /** Whether the server closed the connection (else the read stopped at `timeoutMs`). */
  closed: boolean
  /** ms from the first byte sent to the first response byte (NaN when none). */
  firstByteMs: number
  /** Whether the connection was reset (ECONNRESET). */
  reset: boolean
}

/** Options of `rawRequest`. */
export interface RawOptions {
  /** Pieces sent one after the other, `gapMs` apart. */
  pieces: readonly (string | Buffer)[]
  gapMs?: number
  /** Stop reading this long after the last byte came (or after sending, if none came). @default 3000 */
  idleMs?: number
  /** Hard bound on the whole exchange. @default 15000 */
  timeoutMs?: number
}

/** Sends `pieces` on a fresh connection to 127.0.0.1:`port` and reads what comes back. */
export function rawRequest(port: number, options: RawOptions): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const start = performance.now()
    let firstByteMs = Number.NaN
    let closed = false
    let reset = false
    let idle: NodeJS.Timeout | undefined
    let sending = true
    const finish = () => {
      clearTimeout(idle)
      clearTimeout(hard)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      resolve({ ...parse(text), text, closed, firstByteMs, reset })
    }
    const armIdle = () => {
      clearTimeout(idle)
      if (!sending) idle = setTimeout(finish, options.idleMs ?? 3000)
    }
    const hard = setTimeout(finish, options.timeoutMs ?? 15_000)
    socket.on('data', (c: Buffer) => {
      if (chunks.length === 0) firstByteMs = performance.now() - start
      chunks.push(c)
      armIdle()
    })
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') reset = true
    })
    socket.on('close', () => {
      closed = true
      finish()
    })
    socket.on('connect', async () => {
      for (const [i, piece] of options.pieces.entries()) {
        if (i > 0 && options.gapMs !== undefined)
          await new Promise((r) => setTimeout(r, options.gapMs))
        if (socket.destroyed) break
        socket.write(piece)
      }
      sending = false
      armIdle()
    })
  })
}

function parse(text: string): Pick<RawResult, 'statuses' | 'headers' | 'body'> {
  const statuses = [...text.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]))
  const end = text.indexOf('\r\n\r\n')
  const headers: Record<string, string> = {}
  if (end < 0) return { statuses, headers, body: '' }
  for (const line of text.slice(0, end).split('\r\n').slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = text.slice(end + 4)
  const length = Number(headers['content-length'])
  if (Number.isFinite(length)) body = body.slice(0, length)
  return { statuses, headers, body }
}
