/**
 * One attempt on the wire: undici's dispatch API with a handler of our own, so an
 * attempt costs one object and one promise — no `AbortController`, no Node stream, no
 * `AsyncResource` (what undici's `request()` builds per call). Its budget is an entry
 * on the shared timer wheel, and aborting goes straight to undici's controller.
 */
import type { IncomingResponse } from '@sturdy/core'
import type { TimerWheel, WheelTimer } from '@sturdy/timeout'
import type { Dispatcher } from 'undici'
import { ClientTimeoutError, ConnectionError, ResponseTooLargeError } from './errors.ts'

/** What one attempt sends and how it waits. */
export interface AttemptSpec {
  readonly method: string
  readonly target: string
  readonly headers: Record<string, string>
  readonly body: string | Uint8Array | AsyncIterable<Uint8Array> | null
  /** `buffer`: settle once the whole body is in; `stream`: settle at the headers. */
  readonly mode: 'buffer' | 'stream'
  /** Buffer mode: the most body bytes accepted. */
  readonly maxBytes: number
  readonly headersTimeoutMs: number
  readonly bodyTimeoutMs: number
  /** For messages: the connect timeout in force. */
  readonly connectTimeoutMs: number
  /** When the attempt's own budget runs out, on the wheel's clock; Infinity for never. */
  readonly attemptDue: number
  /** The attempt's budget, for the error message. */
  readonly attemptMs: number
  /** When the call's deadline passes (Infinity for none); a streamed body stays bounded by it. */
  readonly deadlineDue: number
  /** Aborts the attempt (the caller's or the retry's signal); undefined when none can. */
  readonly signal: AbortSignal | undefined
}

/** Per-origin bookkeeping the attempt updates. */
export interface Lane {
  /** Attempts dispatched and not yet finished. */
  inFlight: number
}

const NOT_ABORTED: unique symbol = Symbol('not aborted')
const DUMP_LIMIT = 64 * 1024

/**
 * One attempt: the dispatch handler, the settled response (`IncomingResponse` for
 * interceptors, `headers` for pushback readers) and the cleanup, in one object.
 */
export class Attempt implements Dispatcher.DispatchHandler, IncomingResponse {
  status = 0
  statusText = ''
  /** Response headers as undici parsed them: lower-case names. */
  headers: Record<string, string | string[] | undefined> = EMPTY
  /** Buffer mode: the body. */
  body: Buffer | undefined
  /** Stream mode: the body. */
  stream: ReadableStream<Uint8Array> | null = null
  /** Whether the request may have reached the server (it was handed to a socket). */
  sent = false

  readonly #spec: AttemptSpec
  readonly #wheel: TimerWheel
  readonly #lane: Lane
  #controller: Dispatcher.DispatchController | undefined
  #reason: unknown = NOT_ABORTED
  #settled = false
  #finished = false
  #finishError: unknown
  #timer: WheelTimer | undefined
  #timerKind: 'attempt' | 'deadline' = 'attempt'
  #onAbort: (() => void) | undefined
  #chunks: Buffer[] | undefined
  #bytes = 0
  #dumping = false
  #sink: ReadableStreamDefaultController<Uint8Array> | undefined
  #doneFns: Array<(error: unknown) => void> | undefined
  #resolve!: (value: Attempt) => void
  #reject!: (error: unknown) => void

  constructor(spec: AttemptSpec, wheel: TimerWheel, lane: Lane) {
    this.#spec = spec
    this.#wheel = wheel
    this.#lane = lane
  }

  /** Dispatches on `dispatcher`; settles at the headers (stream) or the body's end (buffer). */
  run(dispatcher: Dispatcher): Promise<Attempt> {
    const promise = new Promise<Attempt>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    const spec = this.#spec
    const signal = spec.signal
    if (signal?.aborted) {
      this.#settle(false, signal.reason)
      return promise
    }
    const due = Math.min(spec.attemptDue, spec.deadlineDue)
    if (due !== Number.POSITIVE_INFINITY) {
      this.#timerKind = spec.attemptDue <= spec.deadlineDue ? 'attempt' : 'deadline'
      this.#timer = this.#wheel.schedule(due, this.#onTimer)
    }
    if (signal !== undefined) {
      const onAbort = (): void => this.abort(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.#onAbort = () => signal.removeEventListener('abort', onAbort)
    }
    this.#lane.inFlight++
    try {
      dispatcher.dispatch(
        {
          path: spec.target,
          method: spec.method as Dispatcher.HttpMethod,
          headers: spec.headers,
          body: spec.body as Dispatcher.DispatchOptions['body'],
          headersTimeout: spec.headersTimeoutMs,
          bodyTimeout: spec.bodyTimeoutMs,
        },
        this,
      )
    } catch (error) {
      this.#fail(error)
    }
    return promise
  }

  /** Aborts the attempt (or its body, once it settled) with `reason`. Idempotent. */
  abort(reason: unknown): void {
    if (this.#finished || this.#reason !== NOT_ABORTED) return
    this.#reason = reason
    const controller = this.#controller
    if (controller !== undefined) {
      // undici reports it back through onResponseError, synchronously.
      controller.abort(reason as Error)
    } else {
      // Still queued: fail now; onRequestStart refuses it later without touching a socket.
      this.#fail(reason)
    }
  }

  /**
   * Frees a response nobody will read (a retried one): a small rest of the body is read
   * and dropped so the connection is reused; a large one closes the connection.
   */
  discard(): void {
    if (this.#finished) return
    if (this.#sink !== undefined) {
      this.#sink = undefined
      this.#dumping = true
      this.#controller?.resume()
    }
  }

  header(name: string): string | undefined {
    const v = this.headers[name] ?? this.headers[name.toLowerCase()]
    return Array.isArray(v) ? v.join(', ') : v
  }

  onDone(fn: (error: unknown) => void): void {
    if (this.#finished) {
      fn(this.#finishError)
      return
    }
    if (this.#doneFns === undefined) this.#doneFns = [fn]
    else this.#doneFns.push(fn)
  }

  // --- undici's handler API ---

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Aborted while queued: throwing fails the request before it is written, so the
    // idle socket undici picked stays usable (an abort here would destroy it).
    if (this.#reason !== NOT_ABORTED) throw this.#reason
    this.#controller = controller
    this.sent = true
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return // 1xx: undici keeps reading
    this.status = statusCode
    this.statusText = statusMessage ?? ''
    this.headers = headers
    const spec = this.#spec
    if (spec.mode === 'buffer') {
      const length = Number(headers['content-length'])
      if (length > spec.maxBytes && !nullBody(spec.method, statusCode)) {
        this.abort(new ResponseTooLargeError(spec.maxBytes))
        return
      }
      this.#chunks = []
      return
    }
    // Stream mode: the attempt is over at the headers; the body stays bounded by the
    // call's deadline (and the caller's signal), not by the attempt's own budget.
    this.#timer?.cancel()
    this.#timer = undefined
    if (spec.deadlineDue !== Number.POSITIVE_INFINITY) {
      this.#timerKind = 'deadline'
      this.#timer = this.#wheel.schedule(spec.deadlineDue, this.#onTimer)
    }
    if (nullBody(spec.method, statusCode)) {
      this.stream = null
    } else {
      this.stream = new ReadableStream<Uint8Array>(
        {
          start: (sink) => {
            this.#sink = sink
          },
          pull: () => {
            controller.resume()
          },
          cancel: (reason) => {
            this.#sink = undefined
            // A cancelled body is not an error of the call: close the connection quietly.
            this.abort(reason ?? new DOMException('The body was cancelled', 'AbortError'))
          },
        },
        { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
      )
    }
    this.#settle(true, this)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#chunks !== undefined) {
      this.#bytes += chunk.length
      if (this.#bytes > this.#spec.maxBytes) {
        this.abort(new ResponseTooLargeError(this.#spec.maxBytes))
        return
      }
      this.#chunks.push(chunk)
      return
    }
    if (this.#dumping) {
      this.#bytes += chunk.length
      if (this.#bytes > DUMP_LIMIT) this.abort(DISCARDED)
      return
    }
    const sink = this.#sink
    if (sink === undefined) return
    sink.enqueue(chunk)
    if ((sink.desiredSize ?? 1) <= 0) controller.pause()
  }

  onResponseEnd(): void {
    const chunks = this.#chunks
    if (chunks !== undefined) {
      this.body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.#bytes)
      this.#chunks = undefined
      this.#finish(undefined)
      this.#settle(true, this)
      return
    }
    const sink = this.#sink
    this.#sink = undefined
    this.#finish(undefined)
    sink?.close()
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#fail(this.#reason !== NOT_ABORTED ? this.#reason : error)
  }

  // --- internals ---

  readonly #onTimer = (): void => {
    this.#timer = undefined
    const spec = this.#spec
    const kind = this.#timerKind
    this.abort(
      new ClientTimeoutError(kind, kind === 'attempt' ? spec.attemptMs : undefined, undefined),
    )
  }

  #fail(raw: unknown): void {
    if (this.#finished) return
    const error = raw === DISCARDED ? raw : this.#translate(raw)
    this.#chunks = undefined
    const sink = this.#sink
    this.#sink = undefined
    this.#finish(error)
    if (sink !== undefined) sink.error(error)
    this.#settle(false, error)
  }

  /** undici's errors as ours; our own reasons and the caller's pass through. */
  #translate(error: unknown): unknown {
    if (this.#reason !== NOT_ABORTED) return error
    const code = (error as { code?: unknown } | null)?.code
    if (typeof code !== 'string') return error
    const spec = this.#spec
    switch (code) {
      case 'UND_ERR_CONNECT_TIMEOUT':
        return new ClientTimeoutError('connect', spec.connectTimeoutMs, { cause: error })
      case 'UND_ERR_HEADERS_TIMEOUT':
        return new ClientTimeoutError('headers', spec.headersTimeoutMs, { cause: error })
      case 'UND_ERR_BODY_TIMEOUT':
        return new ClientTimeoutError('body', spec.bodyTimeoutMs, { cause: error })
      case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
        return new ResponseTooLargeError(spec.maxBytes)
      default:
        if (code.startsWith('UND_ERR_') && !NETWORK_UNDICI_CODES.has(code)) return error
        return new ConnectionError(
          `${(error as Error).message || code} (${code})`,
          this.sent,
          code,
          { cause: error },
        )
    }
  }

  #finish(error: unknown): void {
    if (this.#finished) return
    this.#finished = true
    this.#finishError = error
    this.#timer?.cancel()
    this.#timer = undefined
    this.#onAbort?.()
    this.#onAbort = undefined
    this.#lane.inFlight--
    const fns = this.#doneFns
    if (fns === undefined) return
    this.#doneFns = undefined
    for (const fn of fns) {
      try {
        fn(error)
      } catch {
        // An observer must not break the call.
      }
    }
  }

  #settle(ok: boolean, value: unknown): void {
    if (this.#settled) return
    this.#settled = true
    if (ok) this.#resolve(value as Attempt)
    else {
      if (!this.#finished) this.#finish(value)
      this.#reject(value)
    }
  }
}

const EMPTY: Record<string, string | string[] | undefined> = Object.freeze({}) as Record<
  string,
  string
>

/** The reason a discarded body's connection is closed with; never surfaces. */
const DISCARDED: Error = new Error('response discarded')

/** undici's own codes that mean the connection failed (the rest are usage errors). */
const NETWORK_UNDICI_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
])

/** Responses that carry no body by definition (fetch's "null body status"). */
function nullBody(method: string, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 205 || status === 304
}
