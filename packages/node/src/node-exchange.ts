import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Exchange, RouteLabel } from '@sturdy/core'
import { problemResponse, RequestSignal } from '@sturdy/core'
import { dropLateWrites } from './late-writes.ts'

/**
 * The Exchange of one node:http request/response pair. `@sturdy/node` uses it as is;
 * `@sturdy/express` and `@sturdy/fastify` extend it and override what their framework
 * does differently (route template, where per-request values live, how to answer).
 *
 * It listens to the response once, at construction: `finish` or `close` settles the
 * exchange (see `settled()`), and `close` before the response finished is a client
 * disconnect, which aborts the request signal with a `ClientClosedError`. The signal
 * itself is created only when something reads it.
 *
 * The route: a subclass says what its framework matched (`findRoute()`), and `route()`
 * passes it through the mount's `boundedRoutes()` guard — so the bound on route values
 * holds whatever the framework reports — and keeps the answer once the response is done.
 *
 * @example
 * // an adapter for another node:http framework: one guard per mount
 * const routes = boundedRoutes()
 * class MyExchange extends NodeExchange {
 *   protected override findRoute(): string | undefined {
 *     return myRouter.matchedTemplate(this.req)
 *   }
 * }
 * const ex = new MyExchange(req, res, routes)
 * await chain(middleware)(ex, () => { handle(req, res); return ex.settled() })
 */
export class NodeExchange extends RequestSignal implements Exchange {
  /** The request. */
  protected readonly req: IncomingMessage
  /** The response. */
  protected readonly res: ServerResponse
  /** The request's absolute deadline, set by a deadline middleware. */
  deadline: number | undefined
  readonly #routes: RouteLabel
  #route: string | undefined
  #values: Record<string, unknown> | undefined
  #error: unknown
  #responded = false
  /** The status Sturdy answered with (respond / fail), or 0. */
  #answered = 0
  #done = false
  #settled: Promise<void> | undefined
  #resolve: (() => void) | undefined

  /**
   * @param req the incoming request
   * @param res its response
   * @param routes the mount's route bound (core `boundedRoutes()`), shared by its requests
   */
  constructor(req: IncomingMessage, res: ServerResponse, routes: RouteLabel) {
    super()
    this.req = req
    this.res = res
    this.#routes = routes
    // One listener per event for the whole life of the response; they go with it.
    // (`on`, not `once`: each event fires at most once, and `once` allocates a wrapper.)
    res.on('finish', () => {
      // A framework that wrote Sturdy's answer asynchronously (Fastify's onSend hooks)
      // is done with the response now; from here on only a late handler writes.
      if (this.#answered !== 0) dropLateWrites(res)
      this.#settle()
    })
    res.on('close', () => {
      if (!res.writableFinished) this.clientClosed()
      this.#settle()
    })
  }

  get method(): string {
    return this.req.method ?? 'GET'
  }
  get path(): string {
    // Routers rewrite `req.url` while they descend (Express strips mount prefixes);
    // `originalUrl` is what the client asked for.
    const url = (this.req as { originalUrl?: string }).originalUrl ?? this.req.url ?? '/'
    const q = url.indexOf('?')
    return q === -1 ? url : url.slice(0, q)
  }
  get scheme(): string {
    return (this.req.socket as { encrypted?: boolean } | null)?.encrypted === true
      ? 'https'
      : 'http'
  }
  get host(): string | undefined {
    return this.req.headers.host
  }
  /** The socket's peer address (undefined once the socket is destroyed). */
  get remoteAddress(): string | undefined {
    return this.req.socket?.remoteAddress
  }
  header(name: string): string | undefined {
    const value = this.req.headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(', ') : value
  }
  /** True until node:http has received the whole request (`req.complete`). */
  get receiving(): boolean {
    return !this.req.complete
  }
  /** Sets a response header; ignored once the headers have been sent. */
  setHeader(name: string, value: string): void {
    if (!this.res.headersSent) this.res.setHeader(name, value)
  }

  /**
   * The route template the framework matched, bounded (see `boundedRoutes`):
   * `UNMATCHED_ROUTE` when it matched none. Kept once the response is done; asked
   * earlier, it answers for that moment (the router may not have run yet).
   */
  route(): string {
    if (this.#route !== undefined) return this.#route
    const route = this.#routes(this.findRoute())
    if (this.#done) this.#route = route
    return route
  }

  /**
   * What the framework matched: a route template, or undefined for none. Plain
   * node:http has no router, so undefined; adapters override it.
   */
  protected findRoute(): string | undefined {
    return undefined
  }

  /** The response status; once Sturdy answered, that answer's status, whatever a late handler sets. */
  get status(): number {
    return this.#answered !== 0 ? this.#answered : this.res.statusCode
  }
  get error(): unknown {
    return this.#error
  }
  get responseSize(): number | undefined {
    const length = this.res.getHeader('content-length')
    if (length === undefined) return undefined
    const n = Number(length)
    return Number.isFinite(n) ? n : undefined
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#values?.[key] as T | undefined
  }
  set(key: string, value: unknown): void {
    if (this.#values === undefined) this.#values = {}
    this.#values[key] = value
  }
  /** The values shared with `set()`, as one record (empty until the first `set`). */
  values(): Record<string, unknown> {
    if (this.#values === undefined) this.#values = {}
    return this.#values
  }

  respond(status: number, body?: string | null, headers?: Record<string, string>): void {
    if (this.#responded) return
    this.#responded = true
    // A handler that answered first wins; a second answer cannot be sent.
    if (this.res.headersSent) return
    this.#answer(status, body ?? null, headers)
  }
  get responded(): boolean {
    return this.#responded
  }

  /**
   * Records an error a handler (or a late middleware) threw. The first one is kept:
   * later ones are usually consequences of it (an aborted fetch after a 504).
   */
  recordError(error: unknown): void {
    if (this.#error === undefined) this.#error = error
  }

  /**
   * Resolves once the response has finished, or the connection closed first. It is
   * what the innermost `next()` of an adapter waits for, so that `status` and
   * `route()` are final when the middleware resume.
   */
  settled(): Promise<void> {
    if (this.#settled === undefined) {
      this.#settled = this.#done
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#resolve = resolve
          })
    }
    return this.#settled
  }
  /** True once the response has finished or the connection closed. */
  get isSettled(): boolean {
    return this.#done
  }

  /**
   * Handles an error nobody else can answer: records it, then answers with
   * problem+json when nothing was sent yet (which counts as `respond()`, so a
   * handler's later write is dropped the same way), or cuts the connection when a
   * response is half written (the client must not take a truncated body for a whole one).
   */
  fail(error: unknown): void {
    this.recordError(error)
    if (!this.res.headersSent) {
      if (this.#responded) return
      this.#responded = true
      const answer = problemResponse(error)
      this.#answer(answer.status, answer.body, answer.headers)
    } else if (!this.res.writableEnded) {
      this.res.destroy()
    }
  }

  /**
   * Sturdy's own answer: written once, and the handler's later writes dropped (see
   * `dropLateWrites`) so a handler answering after a 504 can never crash the process.
   */
  #answer(status: number, body: string | null, headers: Record<string, string> | undefined): void {
    this.#answered = status
    this.writeResponse(status, body, headers)
    // Written synchronously (node, Express): drop late writes now, not at `finish` — a
    // handler can write in between. Otherwise (Fastify) at `finish`.
    if (this.res.headersSent) dropLateWrites(this.res)
  }

  /** Writes a whole response. Adapters override it to answer through their framework. */
  protected writeResponse(
    status: number,
    body: string | null,
    headers: Record<string, string> | undefined,
  ): void {
    const res = this.res
    res.statusCode = status
    if (headers !== undefined)
      for (const name in headers) res.setHeader(name, headers[name] as string)
    res.end(body ?? undefined)
  }

  #settle(): void {
    if (this.#done) return
    this.#done = true
    this.#resolve?.()
  }
}
