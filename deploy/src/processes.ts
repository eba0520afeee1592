/**
 * @module
 * Test helpers for running the image's command as processes on 127.0.0.1: free ports,
 * a process whose JSON log lines can be waited for, a switchable gRPC proxy standing in
 * front of a dependency, a gRPC health check. Every process is stopped by its PID.
 */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type {
  ClientHttp2Session,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
  ServerHttp2Session,
  ServerHttp2Stream,
} from 'node:http2'
import { connect, constants, createServer as createHttp2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'

export { freePort } from '../../scripts/free-port.ts'

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

/** How the proxy treats the next call. */
export type ProxyMode = 'pass' | 'flaky' | 'down' | 'slow'

/** A gRPC proxy in front of one dependency, switchable between behaviours. */
export interface SwitchProxy {
  url: string
  mode: ProxyMode
  close(): Promise<void>
}

/**
 * A gRPC proxy (cleartext HTTP/2, as the users service speaks) to `target`: `pass`
 * forwards each call on one upstream session, `flaky` answers every other call
 * UNAVAILABLE (never two failures in a row, so retries succeed and a
 * consecutive-failure breaker stays closed), `down` answers UNAVAILABLE to all, `slow`
 * forwards after 3 s. A failure is a trailers-only gRPC answer, as a balancer or a
 * server that lost its backend sends it.
 */
export async function switchProxy(target: string): Promise<SwitchProxy> {
  let count = 0
  const state: { mode: ProxyMode } = { mode: 'pass' }
  let upstream: ClientHttp2Session | undefined
  const session = (): ClientHttp2Session => {
    if (upstream === undefined || upstream.closed || upstream.destroyed) {
      upstream = connect(target)
      upstream.on('error', () => {})
    }
    return upstream
  }
  const forward = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    if (stream.destroyed) return
    const out: OutgoingHttpHeaders = {}
    for (const [k, v] of Object.entries(headers)) if (!k.startsWith(':')) out[k] = v
    const up = session().request({
      ...out,
      [constants.HTTP2_HEADER_METHOD]: headers[':method'],
      [constants.HTTP2_HEADER_PATH]: headers[':path'],
    })
    up.on('response', (h) => {
      const answer: OutgoingHttpHeaders = {}
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) answer[k] = v
      if (!stream.destroyed)
        stream.respond({ ...answer, ':status': h[':status'] }, { waitForTrailers: true })
    })
    let trailers: OutgoingHttpHeaders = {}
    up.on('trailers', (t) => {
      trailers = { ...t }
    })
    // A trailers-only answer from upstream had its status in the headers: nothing to add.
    stream.on('wantTrailers', () =>
      Object.keys(trailers).length > 0 ? stream.sendTrailers(trailers) : stream.close(),
    )
    up.on('error', () => unavailable(stream))
    stream.on('close', () => up.destroyed || up.close())
    stream.pipe(up)
    up.pipe(stream)
  }
  const server = createHttp2Server()
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    const mode = state.mode
    if (mode === 'down' || (mode === 'flaky' && count++ % 2 === 0)) {
      stream.resume()
      unavailable(stream)
    } else if (mode === 'slow') {
      const timer = setTimeout(() => forward(stream, headers), 3000)
      stream.on('close', () => clearTimeout(timer))
    } else forward(stream, headers)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (s) => {
    sessions.add(s)
    s.on('close', () => sessions.delete(s))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode
    },
    set mode(m: ProxyMode) {
      state.mode = m
    },
    close: async () => {
      for (const s of sessions) s.destroy()
      upstream?.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

/** A trailers-only gRPC answer: UNAVAILABLE. */
function unavailable(stream: ServerHttp2Stream): void {
  if (stream.destroyed || stream.headersSent) {
    stream.destroy()
    return
  }
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': '14',
      'grpc-message': 'upstream unavailable',
    },
    { endStream: true },
  )
}

/**
 * `grpc.health.v1.Health/Check` of `service` on a cleartext HTTP/2 port, with extra
 * request `headers`: the status number (1 SERVING, 2 NOT_SERVING), or as `error` the
 * gRPC status code or the HTTP/2 error that ended the stream (a draining server refuses
 * new streams: NGHTTP2_REFUSED_STREAM).
 */
export async function grpcHealthCheck(
  port: number,
  service: string,
  headers: Record<string, string> = {},
): Promise<{ status?: number; error?: string }> {
  const session = connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  try {
    const name = Buffer.from(service)
    // HealthCheckRequest { string service = 1 } in one length-prefixed gRPC message.
    const message =
      name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name])
    const frame = Buffer.alloc(5 + message.length)
    frame.writeUInt32BE(message.length, 1)
    message.copy(frame, 5)
    const call = session.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      ...headers,
    })
    call.end(frame)
    const chunks: Buffer[] = []
    let meta: IncomingHttpHeaders = {}
    call.on('response', (h) => {
      meta = { ...meta, ...h }
    })
    call.on('trailers', (t) => {
      meta = { ...meta, ...t }
    })
    call.on('data', (c: Buffer) => chunks.push(c))
    try {
      await once(call, 'end')
    } catch (error) {
      return { error: String((error as { code?: string }).code ?? error) }
    }
    const code = String(meta['grpc-status'] ?? '')
    if (code !== '0') return { error: code }
    // HealthCheckResponse { ServingStatus status = 1 }: 0x08 then the varint (absent = 0).
    const body = Buffer.concat(chunks).subarray(5)
    return { status: body[0] === 0x08 ? body[1]! : 0 }
  } finally {
    session.close()
  }
}
