/**
 * Load generators on raw keep-alive TCP connections: closed loop (N clients back to
 * back) and open loop (a fixed arrival rate, whatever the server does). Every request is
 * bounded (`hardTimeoutMs`), every loop by a count or a duration, and every socket is
 * destroyed at the end.
 *
 * Raw HTTP/1.1 rather than node:http's client, for the same reason wrk is written in C:
 * the generator shares the two cores with the services it measures. node:http cost
 * ≈ 150 µs of CPU per request here (parsing, an IncomingMessage stream, two timers);
 * a pre-formatted request and a response scanned for its length cost a fraction of it,
 * and every microsecond the generator spends is taken from the services — twice over at
 * twice their capacity.
 */
import { connect, type Socket } from 'node:net'

/** One request to send. */
export interface Shot {
  method?: string
  path: string
  headers?: Record<string, string>
  body?: string
  /** Destroy the socket this long after sending (a client giving up mid-request). */
  abortAfterMs?: number
}

/** What the clients saw. */
export interface LoadStats {
  sent: number
  /** Complete responses by status. */
  statuses: Record<number, number>
  /** Latency of every complete response, ms, in completion order. */
  latenciesMs: number[]
  /** The slowest complete response of each status, ms. */
  maxByStatus: Record<number, number>
  /** Completion time of every complete 2xx, ms since the start. */
  okAtMs: number[]
  /**
   * Requests that failed without a complete response, by error code (`ECONNRESET` also
   * for a connection closed before its response ended, `EPROTO` for an unreadable
   * response, `CLIENT_TIMEOUT` for the hard bound).
   */
  errors: Record<string, number>
  /** Requests the client aborted on purpose (`abortAfterMs`). */
  aborted: number
  durationMs: number
}

interface Common {
  /** `http://127.0.0.1:port` */
  base: string
  /** Builds request `i`. */
  shot: (i: number) => Shot
  /** A request still unanswered after this is destroyed and counted as `CLIENT_TIMEOUT`. @default 30000 */
  hardTimeoutMs?: number
}

/** Options of `closedLoop`. */
export interface ClosedLoopOptions extends Common {
  concurrency: number
  /** Stop after this many requests... */
  total?: number
  /** ...or after this long, whichever comes first. @default 60000 */
  durationMs?: number
}

/** `concurrency` clients, each sending its next request when the last one ends. */
export async function closedLoop(options: ClosedLoopOptions): Promise<LoadStats> {
  const pool = new Pool(options)
  const stats = emptyStats()
  const start = performance.now()
  const end = start + (options.durationMs ?? 60_000)
  const total = options.total ?? Number.POSITIVE_INFINITY
  let i = 0
  const client = async () => {
    while (i < total && performance.now() < end) {
      await pool.send(options.shot(i++), stats, start)
    }
  }
  try {
    await Promise.all(Array.from({ length: options.concurrency }, client))
  } finally {
    pool.destroy()
  }
  stats.durationMs = performance.now() - start
  return stats
}

/** Options of `openLoop`. */
export interface OpenLoopOptions extends Common {
  ratePerSecond: number
  durationMs: number
  /** Arrivals beyond this many in flight are not sent (counted in `skipped`). @default 2000 */
  maxInFlight?: number
  /**
   * Connections open at most; arrivals beyond them wait for one, their latency counted
   * from arrival. Unbounded, a server that stalls for a moment sees hundreds of new
   * connections at once, overflows its accept queue, and the dropped SYNs come back
   * seconds later: timeouts that are the generator's doing. @default 256
   */
  maxConnections?: number
  /**
   * The arrival clock's tick: arrivals fall due on their exact schedule, and those due
   * within one tick go out together. Each wakeup of the generator costs CPU on the cores
   * it shares with the server (≈ 70 µs for a 1 ms timer on the 2-core CI host, as much as
   * five requests), so a tick of 1 ms cost ≈ 8% of a core at any rate. @default 5
   */
  tickMs?: number
}

/** Requests arriving at a fixed rate, evenly spaced (sent on the clock's tick), however slowly they are answered. */
export async function openLoop(options: OpenLoopOptions): Promise<LoadStats & { skipped: number }> {
  const maxInFlight = options.maxInFlight ?? 2000
  const pool = new Pool(options, options.maxConnections ?? 256)
  const stats = emptyStats()
  const start = performance.now()
  let inFlight = 0
  let skipped = 0
  let i = 0
  const intervalMs = 1000 / options.ratePerSecond
  const total = Math.floor(options.durationMs / intervalMs)
  const tickMs = Math.max(1, intervalMs, options.tickMs ?? 5)
  const done = () => {
    inFlight--
  }
  try {
    while (i < total) {
      // The arrivals due by now: those of the last tick, or more when a timer fires late
      // (on a busy machine they do).
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs))
      while (i < due) {
        i++
        if (inFlight >= maxInFlight) {
          skipped++
          continue
        }
        inFlight++
        void pool.send(options.shot(i), stats, start).then(done)
      }
      if (i < total) await new Promise((r) => setTimeout(r, tickMs))
    }
    // Every request ends: answered, failed, or destroyed at its hard bound.
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5))
  } finally {
    pool.destroy()
  }
  stats.durationMs = performance.now() - start
  return { ...stats, skipped }
}

function emptyStats(): LoadStats {
  return {
    sent: 0,
    statuses: {},
    latenciesMs: [],
    maxByStatus: {},
    okAtMs: [],
    errors: {},
    aborted: 0,
    durationMs: 0,
  }
}

/** One request on its connection, until it settles. */
interface Exchange {
  /** A HEAD request: its response has no body, whatever its headers say. */
  head: boolean
  sentAt: number
  /** When it is destroyed as `CLIENT_TIMEOUT`. */
  hardAt: number
  stats: LoadStats
  start: number
  abortTimer: NodeJS.Timeout | undefined
  resolve: () => void
}

/** A request and the connection it went out on (none while it waits for one). */
interface Job {
  readonly request: string
  readonly ex: Exchange
  conn: Connection | undefined
}

/**
 * Keep-alive connections to one server, each carrying one request at a time (no
 * pipelining). A connection is opened when none is idle, up to `maxConnections`; past
 * it a request waits for the next free connection (as behind a proxy's connection pool).
 */
class Pool {
  readonly #host: string
  readonly #port: number
  readonly #hardTimeoutMs: number
  readonly #idle: Connection[] = []
  readonly #all = new Set<Connection>()
  /** Connections open at most; requests beyond them wait, in arrival order, in `#pending`. */
  readonly #maxConnections: number
  readonly #pending: Job[] = []
  /** One sweep for every request's hard bound, rather than a timer per request. */
  readonly #sweep: NodeJS.Timeout

  constructor(options: Common, maxConnections = Number.POSITIVE_INFINITY) {
    const url = new URL(options.base)
    this.#host = url.host
    this.#port = Number(url.port || 80)
    this.#hardTimeoutMs = options.hardTimeoutMs ?? 30_000
    this.#maxConnections = maxConnections
    const every = Math.min(100, Math.max(10, this.#hardTimeoutMs / 10))
    this.#sweep = setInterval(() => this.#expire(performance.now()), every)
  }

  send(shot: Shot, stats: LoadStats, start: number): Promise<void> {
    return new Promise((resolve) => {
      stats.sent++
      // Latency and the hard bound run from the arrival, a wait for a connection included.
      const sentAt = performance.now()
      const ex: Exchange = {
        head: shot.method === 'HEAD',
        sentAt,
        hardAt: sentAt + this.#hardTimeoutMs,
        stats,
        start,
        abortTimer: undefined,
        resolve,
      }
      const job: Job = { request: format(shot, this.#host), ex, conn: undefined }
      if (shot.abortAfterMs !== undefined) {
        ex.abortTimer = setTimeout(() => this.#abort(job), shot.abortAfterMs)
      }
      const conn = this.#connection(sentAt)
      if (conn === undefined) this.#pending.push(job)
      else this.#start(job, conn)
    })
  }

  /** An idle connection fresh enough to use, or a new one while under the cap. */
  #connection(now: number): Connection | undefined {
    let conn = this.#idle.pop()
    // Like node:http's Agent: a connection idle for nearly the server's keep-alive
    // timeout may be closing as the request goes out (a reset that is the client's
    // doing, not the server's); it is closed instead.
    while (conn !== undefined && !conn.freshAt(now)) {
      conn.destroy()
      conn = this.#idle.pop()
    }
    if (conn !== undefined || this.#all.size >= this.#maxConnections) return conn
    conn = new Connection(this.#port, (c) => this.#release(c))
    this.#all.add(conn)
    return conn
  }

  #start(job: Job, conn: Connection): void {
    job.conn = conn
    conn.send(job.request, job.ex)
  }

  /** The client gives up on a request: on its connection, or still waiting for one. */
  #abort(job: Job): void {
    if (job.conn !== undefined) {
      job.conn.abort(job.ex)
      return
    }
    const at = this.#pending.indexOf(job)
    if (at === -1) return
    this.#pending.splice(at, 1)
    job.ex.stats.aborted++
    job.ex.resolve()
  }

  /** Reused for the next waiting request, or back to the idle list; forgotten when closed. */
  #release(conn: Connection): void {
    if (!conn.reusable) {
      this.#all.delete(conn)
      const at = this.#idle.indexOf(conn)
      if (at !== -1) this.#idle.splice(at, 1)
    }
    const job = this.#pending.shift()
    if (job === undefined) {
      if (conn.reusable) this.#idle.push(conn)
      return
    }
    const next = conn.reusable ? conn : this.#connection(performance.now())
    if (next === undefined) this.#pending.unshift(job)
    else this.#start(job, next)
  }

  /** Requests past their hard bound: on a connection (destroyed) or still waiting. */
  #expire(now: number): void {
    for (const c of this.#all) c.expire(now)
    while (this.#pending.length > 0 && (this.#pending[0] as Job).ex.hardAt <= now) {
      const { ex } = this.#pending.shift() as Job
      clearTimeout(ex.abortTimer)
      ex.stats.errors.CLIENT_TIMEOUT = (ex.stats.errors.CLIENT_TIMEOUT ?? 0) + 1
      ex.resolve()
    }
  }

  destroy(): void {
    clearInterval(this.#sweep)
    for (const c of this.#all) c.destroy()
    this.#all.clear()
    this.#idle.length = 0
  }
}

const CRLF2 = Buffer.from('\r\n\r\n')
/** node:http's Agent retires an idle socket this long before the server's `Keep-Alive: timeout`. */
const KEEP_ALIVE_MARGIN_MS = 1000

/** A TCP connection and the HTTP/1.1 response it is reading. */
class Connection {
  readonly #socket: Socket
  readonly #release: (c: Connection) => void
  #ex: Exchange | undefined
  #buffer: Buffer = Buffer.alloc(0)
  /** The response being read: its status once the head is in, and how its body ends. */
  #status = 0
  #body: 'none' | 'length' | 'chunked' | 'close' | undefined
  #remaining = 0
  #keepAlive = true
  #closed = false
  /** When its last response ended, and how long the server keeps an idle connection (ms). */
  #idleSince = 0
  #serverIdleMs = Number.POSITIVE_INFINITY

  constructor(port: number, release: (c: Connection) => void) {
    this.#release = release
    this.#socket = connect({ port, host: '127.0.0.1', noDelay: true })
    this.#socket.on('data', (chunk: Buffer) => this.#read(chunk))
    this.#socket.on('error', (error: NodeJS.ErrnoException) =>
      this.#fail(error.code ?? error.message),
    )
    this.#socket.on('close', () => {
      this.#closed = true
      // A body delimited by the close ends with it; anything else was cut short.
      if (this.#ex !== undefined && this.#body === 'close') this.#complete()
      else this.#fail('ECONNRESET')
      this.#release(this)
    })
  }

  /** Whether it can carry a request at `now`: idle for less than the server's keep-alive timeout less 1 s. */
  freshAt(now: number): boolean {
    return now - this.#idleSince < this.#serverIdleMs - KEEP_ALIVE_MARGIN_MS
  }

  get reusable(): boolean {
    return !this.#closed && this.#keepAlive && this.#ex === undefined
  }

  send(request: string, ex: Exchange): void {
    this.#ex = ex
    this.#status = 0
    this.#body = undefined
    this.#buffer = Buffer.alloc(0)
    this.#socket.write(request)
  }

  /** The client gives up on `ex` (if it is still this connection's request). */
  abort(ex: Exchange): void {
    if (this.#ex !== ex) return
    this.#settle(() => ex.stats.aborted++)
    this.#socket.destroy()
  }

  expire(now: number): void {
    const ex = this.#ex
    if (ex === undefined || now < ex.hardAt) return
    this.#settle(() => {
      ex.stats.errors.CLIENT_TIMEOUT = (ex.stats.errors.CLIENT_TIMEOUT ?? 0) + 1
    })
    this.#socket.destroy()
  }

  destroy(): void {
    this.#socket.destroy()
  }

  #read(chunk: Buffer): void {
    if (this.#ex === undefined) {
      // Bytes nobody asked for: the connection cannot be trusted any more.
      this.#keepAlive = false
      this.#socket.destroy()
      return
    }
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
    if (this.#body === undefined && !this.#head()) return
    this.#readBody()
  }

  /** Parses the response head once it is complete; false while it is not. */
  #head(): boolean {
    const end = this.#buffer.indexOf(CRLF2)
    if (end === -1) {
      if (this.#buffer.length > 65_536) this.#protocolError()
      return false
    }
    const lines = this.#buffer.toString('latin1', 0, end).split('\r\n')
    const status = Number(lines[0]!.slice(9, 12))
    if (!lines[0]!.startsWith('HTTP/1.') || !(status >= 100 && status <= 599)) {
      this.#protocolError()
      return false
    }
    this.#buffer = this.#buffer.subarray(end + 4)
    if (status < 200) return this.#buffer.length > 0 ? this.#head() : false // 1xx: the real one follows
    let length: number | undefined
    let chunked = false
    let close = false
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!
      const colon = line.indexOf(':')
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line
        .slice(colon + 1)
        .trim()
        .toLowerCase()
      if (name === 'content-length') length = Number(value)
      else if (name === 'transfer-encoding') chunked = value.endsWith('chunked')
      else if (name === 'connection') close = value.includes('close')
      else if (name === 'keep-alive') {
        const timeout = /timeout=(\d+)/.exec(value)
        if (timeout !== null) this.#serverIdleMs = Number(timeout[1]) * 1000
      }
    }
    this.#status = status
    this.#keepAlive = !close
    if (status === 204 || status === 304 || this.#ex?.head === true) this.#body = 'none'
    else if (chunked) this.#body = 'chunked'
    else if (length !== undefined && Number.isSafeInteger(length) && length >= 0) {
      this.#body = 'length'
      this.#remaining = length
    } else {
      this.#body = 'close'
      this.#keepAlive = false
    }
    return true
  }

  #readBody(): void {
    if (this.#body === 'none') this.#complete()
    else if (this.#body === 'length') {
      if (this.#buffer.length < this.#remaining) return
      this.#buffer = this.#buffer.subarray(this.#remaining)
      this.#complete()
    } else if (this.#body === 'chunked') {
      // Whole chunks only: each is "<hex size>[;ext]\r\n<data>\r\n"; "0\r\n" then trailers.
      for (;;) {
        const eol = this.#buffer.indexOf('\r\n')
        if (eol === -1) return
        const size = Number.parseInt(this.#buffer.toString('latin1', 0, eol), 16)
        if (!Number.isSafeInteger(size) || size < 0) {
          this.#protocolError()
          return
        }
        if (size === 0) {
          const end = this.#buffer.indexOf(CRLF2, eol)
          if (end === -1) return
          this.#buffer = this.#buffer.subarray(end + 4)
          this.#complete()
          return
        }
        if (this.#buffer.length < eol + 2 + size + 2) return
        this.#buffer = this.#buffer.subarray(eol + 2 + size + 2)
      }
    }
    // 'close': the body ends with the connection.
  }

  #complete(): void {
    const status = this.#status
    if (this.#buffer.length > 0) this.#keepAlive = false // more than one response: not ours
    this.#settle((ex) => {
      const now = performance.now()
      const { stats } = ex
      stats.statuses[status] = (stats.statuses[status] ?? 0) + 1
      stats.latenciesMs.push(now - ex.sentAt)
      stats.maxByStatus[status] = Math.max(stats.maxByStatus[status] ?? 0, now - ex.sentAt)
      if (status >= 200 && status < 300) stats.okAtMs.push(now - ex.start)
    })
    this.#idleSince = performance.now()
    if (this.#keepAlive) this.#release(this)
    else this.#socket.destroy()
  }

  #protocolError(): void {
    this.#fail('EPROTO')
    this.#socket.destroy()
  }

  #fail(code: string): void {
    this.#settle((ex) => {
      ex.stats.errors[code] = (ex.stats.errors[code] ?? 0) + 1
    })
  }

  /** Ends the current request once: records it, clears its timer, resolves it. */
  #settle(record: (ex: Exchange) => void): void {
    const ex = this.#ex
    if (ex === undefined) return
    this.#ex = undefined
    this.#body = undefined
    clearTimeout(ex.abortTimer)
    record(ex)
    ex.resolve()
  }
}

/** The request's bytes: what node:http would send for it, and no more. */
function format(shot: Shot, host: string): string {
  let head = `${shot.method ?? 'GET'} ${shot.path} HTTP/1.1\r\nhost: ${host}\r\n`
  for (const [name, value] of Object.entries(shot.headers ?? {})) head += `${name}: ${value}\r\n`
  if (shot.body !== undefined) head += `content-length: ${Buffer.byteLength(shot.body)}\r\n`
  return `${head}\r\n${shot.body ?? ''}`
}

/** The `q` quantile (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}
