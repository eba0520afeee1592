import type { Exchange, RouteLabel } from '@sturdy/core'
import { attachExchange, exchangeOf, RequestSignal, UNMATCHED_ROUTE } from '@sturdy/core'
import type { Context } from 'hono'
import { matchedRoutes } from 'hono/route'

/**
 * The Exchange of a Hono request: the one an earlier `sturdy()` mount built, else a new
 * one kept on `c` (so several mounts share it, and `exchangeOf(c)` finds it).
 *
 * @param c the Hono context
 * @param mount the mounting handler; used to tell "nothing matched" apart
 * @param routes the mount's route bound (core `boundedRoutes()`)
 * @returns the request's Exchange
 */
export function honoExchange(c: Context, mount: unknown, routes: RouteLabel): Exchange {
  return exchangeOf(c) ?? attachExchange(c, new HonoExchange(c, mount, routes))
}

/**
 * The request's Exchange, inside a `sturdy()` mount.
 *
 * @deprecated use `exchangeOf(c)`, the one lookup every adapter shares.
 * @param c the Hono context
 * @returns the request's Exchange
 * @throws Error outside a `sturdy()` mount
 * @example
 * const signal = exchangeFor(c).signal // prefer exchangeOf(c)?.signal
 */
export function exchangeFor(c: Context): Exchange {
  const ex = exchangeOf(c)
  if (ex === undefined) throw new Error('exchangeFor(c): no sturdy() mount ran for this request')
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

/** What @hono/node-server passes as Hono's `env`: the Node request and response. */
interface NodeBindings {
  incoming?: {
    complete?: boolean
    headers?: Record<string, string | string[] | undefined>
  }
  outgoing?: {
    writableFinished?: boolean
    destroyed?: boolean
    headersSent?: boolean
    on(event: 'close', fn: () => void): unknown
    setHeader(name: string, value: string): unknown
  }
}

type NodeIncoming = NonNullable<NodeBindings['incoming']>
type NodeOutgoing = NonNullable<NodeBindings['outgoing']>

/** The Node request under @hono/node-server, when its headers can be read directly. */
function nodeIncoming(c: Context): NodeIncoming | undefined {
  const incoming = (c.env as NodeBindings | undefined)?.incoming
  return incoming !== undefined && incoming !== null && typeof incoming.headers === 'object'
    ? incoming
    : undefined
}

/** The Node response under @hono/node-server, when headers can be set on it directly. */
function nodeOutgoing(c: Context): NodeOutgoing | undefined {
  const outgoing = (c.env as NodeBindings | undefined)?.outgoing
  return outgoing !== undefined &&
    outgoing !== null &&
    typeof outgoing.on === 'function' &&
    typeof outgoing.setHeader === 'function'
    ? outgoing
    : undefined
}

/**
 * The key under which @hono/node-server's lightweight Response keeps `[status, body,
 * headers]` until its headers or body are read (a private symbol, described `cache`),
 * found once.
 */
let partsKey: symbol | undefined

type LightweightParts = readonly [status: number, body: unknown, headers: unknown]

/** node-server's parts of a lightweight response not yet made a full one; else undefined. */
function lightweightParts(res: Response): LightweightParts | undefined {
  let key = partsKey
  if (key === undefined || !Object.hasOwn(res, key)) {
    key = Object.getOwnPropertySymbols(res).find((s) => s.description === 'cache')
    if (key === undefined) return undefined
    partsKey = key
  }
  const parts = (res as unknown as Record<symbol, unknown>)[key]
  return Array.isArray(parts) && parts.length === 3
    ? (parts as unknown as LightweightParts)
    : undefined
}

/** The size node-server declares for a lightweight response: its header, else its body's length. */
function partsSize([, body, headers]: LightweightParts): number | undefined {
  if (headers instanceof Headers) {
    const declared = headers.get('content-length')
    if (declared !== null) return lengthOf(declared)
  } else if (Array.isArray(headers)) {
    for (const pair of headers as unknown[]) {
      if (Array.isArray(pair) && isContentLength(pair[0])) return lengthOf(pair[1])
    }
  } else if (typeof headers === 'object' && headers !== null) {
    for (const name in headers) {
      if (isContentLength(name)) return lengthOf((headers as Record<string, unknown>)[name])
    }
  }
  if (typeof body === 'string') return Buffer.byteLength(body)
  if (body instanceof Uint8Array) return body.byteLength
  if (body instanceof Blob) return body.size
  return undefined
}

function isContentLength(name: unknown): boolean {
  return typeof name === 'string' && name.length === 14 && name.toLowerCase() === 'content-length'
}

/** A declared length as a number; undefined when absent or not a size. */
function lengthOf(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/** Stands in, in Hono's variables, for a value `setLazy` shares until it is first read. */
const LAZY: object = Object.freeze({ lazy: true })

/** The `var` getter Hono's `Context` defines, found once (see `setLazy`). */
let contextVar: ((this: Context) => Record<string, unknown>) | undefined
let contextVarOwner: object | undefined

function baseVar(c: Context): ((this: Context) => Record<string, unknown>) | undefined {
  const proto = Object.getPrototypeOf(c) as object | null
  if (proto === null) return undefined
  if (proto !== contextVarOwner) {
    contextVarOwner = proto
    contextVar = Object.getOwnPropertyDescriptor(proto, 'var')?.get
  }
  return contextVar
}

/**
 * Whether lazy values can be deferred on this context: Hono defines `get` as a
 * per-instance field and `var` as a prototype getter (every 4.x release); anything else
 * gets the value computed up front.
 */
function canDefer(c: Context): boolean {
  return Object.hasOwn(c, 'get') && typeof c.get === 'function' && baseVar(c) !== undefined
}

/** The `var` accessor of a context holding lazy values: Hono's copy, markers resolved. */
function lazyVar(this: Context): Record<string, unknown> {
  const values = (baseVar(this) as (this: Context) => Record<string, unknown>).call(this)
  for (const key in values) {
    if (values[key] === LAZY) values[key] = this.get(key as never)
  }
  return values
}

/**
 * Maps a Hono context onto the Exchange. Hono's `next()` never throws: errors land in
 * `c.error` and the error response in `c.res`, so status and error are read from there.
 */
class HonoExchange extends RequestSignal implements Exchange {
  readonly #c: Context
  readonly #mount: unknown
  readonly #routes: RouteLabel
  /** @hono/node-server's Node request and response; undefined on other runtimes. */
  readonly #incoming: NodeIncoming | undefined
  readonly #outgoing: NodeOutgoing | undefined
  #responded = false
  /** Values shared with `setLazy`, not yet read; undefined until the first. */
  #lazy: Map<string, (ex: Exchange) => unknown> | undefined
  #routeIndex = -1
  #routeStatus = 0
  #route: string = UNMATCHED_ROUTE
  deadline: number | undefined

  constructor(c: Context, mount: unknown, routes: RouteLabel) {
    super()
    this.#c = c
    this.#mount = mount
    this.#routes = routes
    this.#incoming = nodeIncoming(c)
    this.#outgoing = nodeOutgoing(c)
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
    return this.header('host')
  }
  get remoteAddress(): string | undefined {
    return peerAddress(this.#c)
  }
  /**
   * On @hono/node-server, read from the Node request's own header record: `c.req.header()`
   * would first copy every request header into a Web `Headers` (node-server builds it
   * lazily, on first read), and Sturdy reads a handful per request. Repeated headers read
   * as node:http joins them, as in the node, Express and Fastify adapters.
   */
  header(name: string): string | undefined {
    const incoming = this.#incoming
    if (incoming === undefined) return this.#c.req.header(name)
    const value = (incoming.headers as Record<string, string | string[] | undefined>)[
      name.toLowerCase()
    ]
    return typeof value === 'string' ? value : value === undefined ? undefined : value.join(', ')
  }
  /** On @hono/node-server: until the Node request has all arrived. Elsewhere unknown. */
  get receiving(): boolean | undefined {
    const incoming = (this.#c.env as NodeBindings | undefined)?.incoming
    return incoming === undefined ? undefined : incoming.complete !== true
  }
  /**
   * On @hono/node-server, set on the Node response (node-server merges the Response's own
   * headers over it, so a handler's value wins, as with `c.header()`): a header set through
   * Hono makes every response carry a Web `Headers`, which takes node-server off its
   * lightweight response path. Such a header is not visible in `c.res.headers`.
   * Elsewhere, `c.header()`.
   */
  setHeader(name: string, value: string): void {
    const outgoing = this.#outgoing
    if (outgoing !== undefined && outgoing.headersSent !== true) outgoing.setHeader(name, value)
    else if (outgoing === undefined) this.#c.header(name, value)
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
    return this.#routes(current.path)
  }

  get status(): number {
    return this.#c.res.status
  }
  get error(): unknown {
    return this.#c.error
  }
  /**
   * The response's declared `Content-Length`. On @hono/node-server a response Hono built
   * (`c.json()`, `c.text()` …) is node-server's lightweight one, whose headers become a
   * Web `Headers` (and the response a full one) on first read: there the size is read
   * from the parts node-server keeps, and for a string or byte body it is the length
   * node-server itself will declare when it writes the response.
   */
  get responseSize(): number | undefined {
    const res = this.#c.res
    if (this.#outgoing !== undefined) {
      const parts = lightweightParts(res)
      if (parts !== undefined) return partsSize(parts)
    }
    return lengthOf(res.headers.get('content-length'))
  }

  get<T = unknown>(key: string): T | undefined {
    return this.#c.get(key as never) as T | undefined
  }
  set(key: string, value: unknown): void {
    this.#c.set(key as never, value as never)
  }
  /**
   * Hono keeps variables in a `Map` that `c.var` copies on every read, so a value cannot
   * be a getter there. Instead a marker stands in for the value in that map, and this
   * request's context gets its own `get` (already a per-instance field in Hono: no change
   * of the context's shape) and a `var` accessor (one getter shared by every request, so
   * V8 reuses one hidden-class transition) that replace the marker with `read(ex)` on
   * first read. A handler's own `c.set(key)` overwrites the marker like any value.
   */
  setLazy(key: string, read: (ex: Exchange) => unknown): void {
    const c = this.#c
    let lazy = this.#lazy
    if (lazy === undefined) {
      if (!canDefer(c)) {
        c.set(key as never, read(this) as never)
        return
      }
      lazy = new Map()
      this.#lazy = lazy
      ;(c as { get: (key: string) => unknown }).get = HonoExchange.#lazyGet(
        this,
        c.get as (key: string) => unknown,
      )
      Object.defineProperty(c, 'var', { configurable: true, get: lazyVar })
    }
    lazy.set(key, read)
    c.set(key as never, LAZY as never)
  }

  /**
   * The context's `get`, resolving markers. Made here, not inline in `setLazy`: on Node
   * 24 the closure made inline kept every request's objects alive across young-generation
   * collections (a tenfold promotion rate; V8 grew the young generation from 8 to 128 MB).
   */
  static #lazyGet(ex: HonoExchange, baseGet: (key: string) => unknown): (key: string) => unknown {
    return (name: string): unknown => {
      const value = baseGet(name)
      return value === LAZY ? ex.#resolve(name) : value
    }
  }

  #resolve(key: string): unknown {
    const read = this.#lazy?.get(key)
    const value = read === undefined ? undefined : read(this)
    this.#c.set(key as never, value as never)
    return value
  }

  respond(status: number, body?: string | null, headers?: Record<string, string>): void {
    if (this.#responded) return
    this.#responded = true
    const c = this.#c
    // A copy: Hono hands a one-header object to the Response as is, and @hono/node-server
    // then writes Content-Length into it. A caller's shared answer (a shed 503, a 504)
    // would throw if frozen, and otherwise carry a number into the next response.
    c.res = c.newResponse(body ?? null, status as never, headers && { ...headers })
  }
  get responded(): boolean {
    return this.#responded
  }

  protected override clientGone(): boolean {
    const outgoing = this.#outgoing
    if (outgoing !== undefined) {
      return outgoing.destroyed === true && outgoing.writableFinished !== true
    }
    return this.#c.req.raw.signal.aborted
  }

  /**
   * Client disconnects, watched once the signal exists: on @hono/node-server the Node
   * response's `close` before it finished (cheap, no Request materialized); elsewhere
   * the request's own signal.
   */
  protected override watchClient(): void {
    const outgoing = this.#outgoing
    if (outgoing !== undefined) {
      // `on`, not `once`: `close` fires once, and `once` allocates a wrapper per request.
      outgoing.on('close', () => {
        if (outgoing.writableFinished !== true) this.clientClosed()
      })
      return
    }
    const raw = this.#c.req.raw.signal
    if (raw.aborted) this.clientClosed()
    else raw.addEventListener('abort', () => this.clientClosed(), { once: true })
  }
}
