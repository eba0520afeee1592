/**
 * The conformance harness: a framework-neutral description of an app (Sturdy
 * middleware + routes whose handlers read per-request values), and the contract every
 * framework adapter under test implements to serve it on a real server on 127.0.0.1.
 */
import type { Server } from 'node:http'
import type { Middleware } from '@sturdy/core'

/** What a handler gets, mapped by each adapter from its framework's idiom. */
export interface HandlerContext {
  /** Route parameters. */
  readonly params: Readonly<Record<string, string>>
  /**
   * A per-request value shared by Sturdy middleware, read the framework's way:
   * `c.var[key]` (Hono), `res.locals[key]` (Express), `request.sturdy[key]` (Fastify),
   * `valuesOf(req)[key]` (node:http).
   */
  value(key: string): unknown
  /** The parsed JSON request body (parsed the framework's usual way). */
  body(): Promise<unknown>
}

/** What a handler answers; a thrown error goes to the framework's error handling. */
export interface HandlerResult {
  status?: number
  json?: unknown
  text?: string
  headers?: Record<string, string>
  /**
   * Answer callback-style instead: when this resolves, write its answer from a timer
   * callback, outside any promise the framework holds — what `setTimeout(() =>
   * res.json(...))` does in Express, node:http and Fastify (`return reply`). Hono has no
   * callback style: its adapter returns the promise.
   */
  later?: Promise<HandlerResult>
}

/** A handler: sync or async, so adapters must keep sync throws synchronous. */
export type Handler = (ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>

/** One route. `path` uses `:param` segments, which all four frameworks understand. */
export interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  /** Mount the route in a sub-app/router/plugin under this prefix (e.g. `/api/v1`). */
  prefix?: string
  handler: Handler
}

/** An app to serve: the Sturdy middleware (outermost first) and the routes. */
export interface AppSpec {
  middleware: Middleware<object>[]
  routes: RouteSpec[]
}

/** A running app. */
export interface Served {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /**
   * The listening node:http server the framework ends on (what `@sturdy/lifecycle`
   * drains): `@hono/node-server`'s, the one Express listens with, `fastify.server`.
   */
  readonly server: Server
  close(): Promise<void>
}

/**
 * A framework under test. To add one: implement `serve` (mount the middleware with
 * the adapter, map each route, read values in the framework's idiom) and add it to the
 * `adapters` list in `adapters/index.ts`.
 */
export interface FrameworkAdapter {
  readonly name: string
  serve(app: AppSpec): Promise<Served>
  /**
   * How the framework's own error handling answers an unknown error a handler threw.
   * Every adapter answers 500; the body differs and is not part of the contract.
   */
  readonly errorStatus: number
}

/**
 * Starts `app`, runs `fn` against its URL, and always closes the server; then checks
 * that the adapter's server really is gone (no listening handle left behind).
 */
export async function withServer<T>(
  adapter: FrameworkAdapter,
  app: AppSpec,
  fn: (url: string, served: Served) => Promise<T>,
): Promise<T> {
  const before = listeningServers()
  const served = await adapter.serve(app)
  let result: T
  try {
    result = await fn(served.url, served)
  } finally {
    await served.close()
  }
  // libuv releases a closed handle in a later loop turn than the close callback.
  let after = listeningServers()
  for (let turn = 0; after > before && turn < 20; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 5))
    after = listeningServers()
  }
  if (after !== before) throw new Error(`${adapter.name}: ${after - before} server(s) left open`)
  return result
}

function listeningServers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length
}

/** Listens on 127.0.0.1, port 0, and returns the URL. */
export function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') reject(new Error('no port'))
      else resolve(`http://127.0.0.1:${address.port}`)
    })
  })
}

/** Closes a node:http server and every connection it still holds (a no-op once closed). */
export function closeServer(server: Server): Promise<void> {
  if (!server.listening) {
    server.closeAllConnections()
    return Promise.resolve()
  }
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()))
    server.closeAllConnections()
  })
}

/**
 * Calls a handler keeping a sync throw synchronous; maps the result with `send`. A
 * result with `later` is answered callback-style (see `HandlerResult.later`), and
 * `detached` is what the framework's handler returns meanwhile.
 */
export function callHandler<R>(
  handler: Handler,
  ctx: HandlerContext,
  send: (result: HandlerResult) => R,
  detached?: () => R,
): R | Promise<Awaited<R>> {
  const callback = (r: HandlerResult): R => {
    if (r.later === undefined || detached === undefined) return send(r)
    r.later.then((answer) => {
      // A timer callback, as in a real callback-style handler: a throw here is an
      // uncaught exception.
      setTimeout(() => send(answer), 0)
    })
    return detached()
  }
  const result = handler(ctx)
  return result instanceof Promise
    ? (result.then(callback) as Promise<Awaited<R>>)
    : callback(result)
}

/**
 * Records process-level failures (`uncaughtException`, `unhandledRejection`) while `fn`
 * runs, and a few event-loop turns after: a deadline must never produce one. Vitest
 * reports them too, but this makes the scenario itself fail, and names the adapter.
 */
export async function withoutProcessFailures(fn: () => Promise<void>): Promise<unknown[]> {
  const failures: unknown[] = []
  const record = (error: unknown): void => {
    failures.push(error)
  }
  process.on('uncaughtException', record)
  process.on('unhandledRejection', record)
  try {
    await fn()
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setTimeout(resolve, 5))
  } finally {
    process.off('uncaughtException', record)
    process.off('unhandledRejection', record)
  }
  return failures
}

/** A value that resolves when `resolve` is called; for sequencing scenarios. */
export interface Deferred<T> {
  readonly promise: Promise<T>
  resolve(value: T): void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** Rejects when `promise` has not settled within `ms` (a bound, not a speed claim). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
