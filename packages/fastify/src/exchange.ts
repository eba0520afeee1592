import type { RouteLabel } from '@sturdy/core'
import { attachExchange, exchangeOf } from '@sturdy/core'
import { NodeExchange } from '@sturdy/node'
import type { FastifyReply, FastifyRequest } from 'fastify'

/**
 * The Exchange of a Fastify request: the one an outer registration of the plugin built,
 * else a new one kept on `request` (so nested registrations share it, and
 * `exchangeOf(request)` finds it).
 *
 * @param request the Fastify request
 * @param reply its reply
 * @param routes the registration's route bound (core `boundedRoutes()`)
 * @returns the request's Exchange
 */
export function fastifyExchange(
  request: FastifyRequest,
  reply: FastifyReply,
  routes: RouteLabel,
): FastifyExchange {
  return (
    exchangeOf<FastifyExchange>(request) ??
    attachExchange(request, new FastifyExchange(request, reply, routes))
  )
}

/**
 * Maps a Fastify request onto the Exchange: the route template is
 * `request.routeOptions.url` (prefixes included; undefined for 404s), headers and
 * short-circuit answers go through the reply so `onSend` hooks and Fastify's header
 * handling still apply, and values live on `request.sturdy`.
 */
export class FastifyExchange extends NodeExchange {
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply
  readonly #values: Record<string, unknown>

  constructor(request: FastifyRequest, reply: FastifyReply, routes: RouteLabel) {
    super(request.raw, reply.raw, routes)
    this.#request = request
    this.#reply = reply
    this.#values = {}
    ;(request as { sturdy?: Record<string, unknown> }).sturdy = this.#values
  }

  protected override findRoute(): string | undefined {
    const request = this.#request
    // The route is known from onRequest on (`routeOptions` builds a fresh object per
    // read; route() keeps the answer once the response is done).
    return request.is404 ? undefined : request.routeOptions.url
  }

  override setHeader(name: string, value: string): void {
    if (!this.#reply.sent) this.#reply.header(name, value)
  }

  override get<T = unknown>(key: string): T | undefined {
    return this.#values[key] as T | undefined
  }
  override set(key: string, value: unknown): void {
    this.#values[key] = value
  }
  override values(): Record<string, unknown> {
    return this.#values
  }

  protected override writeResponse(
    status: number,
    body: string | null,
    headers: Record<string, string> | undefined,
  ): void {
    const reply = this.#reply
    if (reply.sent) return
    reply.code(status)
    if (headers !== undefined) reply.headers(headers)
    // A Buffer goes out as is: a string would get `; charset=utf-8` appended to the
    // content type, and the answer must carry exactly the headers it was given.
    reply.send(body === null ? undefined : Buffer.from(body))
  }
}
