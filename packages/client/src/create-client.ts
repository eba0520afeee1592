import type { KeyedBreaker } from '@sturdy/breaker'
import type { Events, ObservablePolicy, RetryEventMap } from '@sturdy/core'
import { parseRetryAfter } from '@sturdy/retry'
import type { Answer, PoolStatsLike } from './client.ts'
import { Engine } from './client.ts'
import { HttpStatusError, ResponseValidationError } from './errors.ts'
import type { ClientOptions, ClientRequestInit } from './options.ts'
import type { SchemaOutput, StandardSchemaV1 } from './schema.ts'
import { validate } from './schema.ts'
import type { Attempt } from './transport.ts'

/** What `client.json()` takes: `client.fetch()`'s options plus a schema. */
export interface JsonRequestInit<S extends StandardSchemaV1 = StandardSchemaV1>
  extends ClientRequestInit {
  /** Validates the parsed body (zod, valibot, any Standard Schema). @default none */
  schema?: S
}

/** A pooled, deadline-aware HTTP client (see `createClient`). */
export interface Client {
  /**
   * A fetch-compatible call: `Request`/`RequestInit` in, `Response` out, through the
   * origin's pool and policies. Non-2xx answers are responses, as with fetch; the body
   * streams, and stays bounded by the call's deadline and signal.
   */
  fetch(input: string | URL | Request, init?: ClientRequestInit): Promise<Response>
  /**
   * Calls and parses JSON: the body is buffered (up to `maxResponseBytes`), so a body
   * that fails mid-way is retried like any attempt. A non-2xx answer throws
   * `HttpStatusError` (status, problem+json body, `retryAfterMs`); with a `schema`, data
   * that does not match throws `ResponseValidationError` naming the failing fields.
   */
  json<S extends StandardSchemaV1>(
    input: string | URL | Request,
    init: JsonRequestInit<S> & { schema: S },
  ): Promise<SchemaOutput<S>>
  json<T = unknown>(input: string | URL | Request, init?: ClientRequestInit): Promise<T>
  /** Every origin's retry events (attempt, retry, giveUp, ...), each named after its origin. */
  readonly retries: Events<RetryEventMap>
  /** The per-origin breakers (`@sturdy/breaker` keyed by origin), when any origin has one. */
  readonly breakers: KeyedBreaker
  /**
   * The client's policies for observers (`policyMetrics().observe`, `logPolicyEvents`,
   * `traceEvents`): every origin's retries as one `retry` policy named `client` (each
   * event named after its origin), the keyed breakers, every origin's hedges as one
   * `hedge` policy and its throttles and concurrency limits as one `limit` policy (both
   * named `client`, events named after the origin).
   */
  readonly policies: readonly ObservablePolicy[]
  /** undici's statistics of an origin's pool (connections, pending...), if it has one. */
  stats(origin: string): PoolStatsLike | undefined
  /** Closes every pool: calls in flight finish, new calls fail. */
  close(): Promise<void>
  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Creates a pooled, deadline-aware HTTP client on undici 7: one keep-alive pool per
 * origin, and per attempt a timeout, a circuit breaker and retries with backoff and
 * jitter (idempotent calls only, `Retry-After` honoured, a retry budget per origin).
 * Given the inbound request's values (`context: c`), a call is bounded by its deadline
 * and signal, and carries the remaining budget (`x-request-timeout-ms`), the trace
 * (`traceparent`, `tracestate`) and the request id (`x-request-id`) to the next hop.
 *
 * @param options pool, timeouts, policies and propagation, per origin or for all
 * @returns the client
 * @example
 * import { createClient } from '@sturdy/client'
 * import { z } from 'zod'
 *
 * const inventory = createClient({ baseUrl: 'http://127.0.0.1:9000', attemptTimeoutMs: 500 })
 * const Stock = z.object({ sku: z.string(), count: z.number() })
 *
 * app.get('/stock/:sku', async (c) => {
 *   const stock = await inventory.json(`/stock/${c.req.param('sku')}`, { schema: Stock, context: c })
 *   return c.json(stock)
 * })
 */
export function createClient(options: ClientOptions = {}): Client {
  const engine = new Engine(options)
  const client: Client = {
    async fetch(input, init) {
      const answer = await engine.run(input, init, 'stream')
      return toResponse(answer)
    },
    async json(input: string | URL | Request, init?: JsonRequestInit) {
      const answer = await engine.run(input, init, 'buffer')
      return parse(answer, init?.schema)
    },
    retries: engine.retryEvents,
    breakers: engine.breakers,
    policies: engine.policies,
    stats: (origin) => engine.stats(origin),
    close: () => engine.close(),
    [Symbol.asyncDispose]: () => engine.close(),
  } as Client
  return client
}

function toResponse(answer: Answer): Response {
  const a = answer.attempt
  const response = new Response(a.stream, {
    status: a.status,
    statusText: a.statusText,
    headers: toHeaders(a),
  })
  // fetch's Response.url; the constructor cannot set it.
  Object.defineProperty(response, 'url', { value: answer.href })
  return response
}

function toHeaders(a: Attempt): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(a.headers)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) headers.append(name, v)
    else headers.append(name, value)
  }
  return headers
}

async function parse(answer: Answer, schema: StandardSchemaV1 | undefined): Promise<unknown> {
  const a = answer.attempt
  const status = a.status
  if (status < 200 || status > 299) throw statusError(answer)
  const body = a.body
  let value: unknown
  if (body === undefined || body.length === 0) {
    value = undefined
  } else {
    try {
      value = JSON.parse(text(body))
    } catch (error) {
      throw new ResponseValidationError(answer.url, [
        { path: '', message: `not JSON (${(error as Error).message})` },
      ])
    }
  }
  if (schema === undefined) return value
  const result = await validate(schema, value)
  if (!result.ok) throw new ResponseValidationError(answer.url, result.issues)
  return result.value
}

/** UTF-8 text of a body, without a byte-order mark (as `Response.text()` drops it). */
function text(body: Buffer): string {
  const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0
  return body.toString('utf8', start)
}

function statusError(answer: Answer): HttpStatusError {
  const a = answer.attempt
  const headers = toHeaders(a)
  let problem: Record<string, unknown> | undefined
  const type = a.header('content-type') ?? ''
  if (type.startsWith('application/problem+json') && a.body !== undefined) {
    try {
      const parsed: unknown = JSON.parse(text(a.body))
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        problem = parsed as Record<string, unknown>
      }
    } catch {
      // A malformed problem body is no problem body.
    }
  }
  const after = a.header('retry-after')
  return new HttpStatusError({
    upstreamStatus: a.status,
    method: answer.method,
    url: answer.url,
    headers,
    problem,
    retryAfterMs: after === undefined ? undefined : parseRetryAfter(after, Date.now()),
    note: answer.refused === undefined ? undefined : ` (not retried: ${answer.refused})`,
  })
}
