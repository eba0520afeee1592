import type { Exchange } from '@sturdy/core'
import { ClientClosedError, UNMATCHED_ROUTE } from '@sturdy/core'
import type { Context } from 'hono'
import { matchedRoutes } from 'hono/route'

const EXCHANGE: unique symbol = Symbol('@sturdy/hono exchange') as never

type WithExchange = Context & { [EXCHANGE]?: HonoExchange }

/**
 * The Exchange of a Hono request, created on first use and shared by every `sturdy()`
 * mount on the request. Useful for writing Hono-only glue that calls Sturdy helpers.
 *
 * @param c the Hono context
 * @param mount the mounting handler; used to tell "nothing matched" apart
 */
export function exchangeFor(c: Context, mount?: unknown): Exchange {
  const holder = c as WithExchange
  let ex = holder[EXCHANGE]
  if (ex === undefined) {
    ex = new HonoExchange(c, mount)
    holder[EXCHANGE] = ex
  }
  return ex
}

/**
 * The peer address from what each runtime passes as Hono's `env`: @hono/node-server's
 * `incoming` request, Bun's `server` (`requestIP`), Deno's `ServeHandlerInfo`
 * (`remoteAddr`). Undefined elsewhere (and in `app.request()` tests).
 */
function peerAddress(c: Context): string | undefined {
  const env = c.env as
    | {
        incoming?: { socket?: { remoteAddress?: string } }
        requestIP?: (request: Request) => { address?: string } | null
        remoteAddr?: { hostname?: string }
      }
    | undefined
  if (env === undefined || env === null) return undefined
  const node = env.incoming?.socket?.remoteAddress
  if (node !== undefined) return node
  if (typeof env.requestIP === 'function') {
    try {
      return env.requestIP(c.req.raw)?.address ?? undefined
    } catch {
      return undefined
    }
  }
  return env.remoteAddr?.hostname
}

interface NodeBindings {
  outgoing?: {
    writableFinished?: boolean
    destroyed?: boolean
    once(event: 'close', fn: () => void): unknown
  }
}

/**
 * Maps a Hono context onto the Exchange. Hono's `next()` never throws: errors land in
 * `c.error` and the error response in `c.res`, so status and error are read from there.
 */
class HonoExchange implements Exchange {
  readonly #c: Context
  readonly #mount: unknown
  #controller: AbortController | undefined
  #reason: unknown
  #aborted = false
  #responded = false
  #routeIndex = -1
  #routeStatus = 0
  #route: string = UNMATCHED_ROUTE
  deadline: number | undefined

  constructor(c: Context, mount: unknown) {
    this.#c = c
    this.#mount = mount
  }

  get method(): string {
    return this.#c.req.method
  }
  get path(): string {
    return this.#c.req.path
  }
  get scheme(): string {
    return this.#c.req.url.startsWith('https:') ? 'https' : 'http'
  }
  get host(): string | undefined {
    return this.#c.req.header('host')
  }
  get remoteAddress(): string | undefined {
    return peerAddress(this.#c)
  }
  header(name: string): string | undefined {
    return this.#c.req.header(name)
  }
  setHeader(name: string, value: string): void {
    this.#c.header(name, value)
  }

  route(): string {
    // Metrics, tracing and the access log each ask after next(); matchedRoutes() builds a
    // new array per call, so the answer is kept for as long as its inputs are unchanged.
    const c = this.#c
    const index = c.req.routeIndex
    const status = c.res.status
    if (index === this.#routeIndex && status === this.#routeStatus) return this.#route
    const route = this.#findRoute(c, index, status)
    this.#routeIndex = index
    this.#routeStatus = status
    this.#route = route
    return route
  }

  #findRoute(c: Context, index: number, status: number): string {
    const current = matchedRoutes(c)[index]
    if (current === undefined || current.handler === this.#mount) return UNMATCHED_ROUTE
    // The last route that ran is a middleware that fell through to Hono's not-found
    // handler: nothing matched. (`app.use` registers middleware under method ALL.)
    if (current.method === 'ALL' && current.handler.length >= 2 && status === 404) {
      return UNMATCHED_ROUTE
    }
    return current.path
  }

  get status(): number {
    return this.#c.res.status
  }
  get error(): unknown {
    return this.#c.error
  }
  get responseSize(): number | undefined {
    const length = this.#c.res.headers.get('content-length')
    return length === null ? undefined : Number(length)
  }

  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal
    const controller = new AbortController()
    this.#controller = controller
    if (this.#aborted) {
      controller.abort(this.#reason)
      return controller.signal
    }
    this.#watchClient()
    return controller.signal
  }
  get aborted(): boolean {
    // Without a signal nobody watches the client, so ask the connection directly.
    if (!this.#aborted && this.#controller === undefined && this.#clientGone()) {
      this.abort(new ClientClosedError())
    }
    return this.#aborted
  }
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#c.get(key as never) as T | undefined
  }
  set(key: string, value: unknown): void {
    this.#c.set(key as never, value as never)
  }

  respond(status: number, body?: string | null, headers?: Record<string, string>): void {
    if (this.#responded) return
    this.#responded = true
    const c = this.#c
    c.res = c.newResponse(body ?? null, status as never, headers)
  }
  get responded(): boolean {
    return this.#responded
  }

  #clientGone(): boolean {
    const outgoing = (this.#c.env as NodeBindings | undefined)?.outgoing
    if (outgoing !== undefined && typeof outgoing.once === 'function') {
      return outgoing.destroyed === true && outgoing.writableFinished !== true
    }
    return this.#c.req.raw.signal.aborted
  }

  /**
   * Client disconnects: on @hono/node-server the Node response's `close` before it
   * finished (cheap, no Request materialized); elsewhere the request's own signal.
   */
  #watchClient(): void {
    const closed = (): void => this.abort(new ClientClosedError())
    const outgoing = (this.#c.env as NodeBindings | undefined)?.outgoing
    if (outgoing !== undefined && typeof outgoing.once === 'function') {
      outgoing.once('close', () => {
        if (outgoing.writableFinished !== true) closed()
      })
      return
    }
    const raw = this.#c.req.raw.signal
    if (raw.aborted) closed()
    else raw.addEventListener('abort', closed, { once: true })
  }
}
