/**
 * Scenarios that need nothing but `@sturdy/core`: every Exchange field, short-circuit,
 * errors, unmatched routes, client disconnects, and async context reaching handlers.
 */

import { context, trace } from '@opentelemetry/api'
import type { Exchange, Middleware } from '@sturdy/core'
import {
  abortKind,
  ClientClosedError,
  respondProblem,
  UNMATCHED_ROUTE,
  ValidationError,
} from '@sturdy/core'
import { expect } from 'vitest'
import { deferred, within, withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

/** What a recording middleware saw of one request. */
export interface Seen {
  method: string
  path: string
  scheme: string
  host: string | undefined
  header: string | undefined
  route: string
  status: number
  error: unknown
  aborted: boolean
}

/** Records every Exchange field; sets a response header before `next()`. */
export function recorder(seen: Seen[], after?: () => void): Middleware {
  return async function record(ex: Exchange, next) {
    const before = {
      method: ex.method,
      path: ex.path,
      scheme: ex.scheme,
      host: ex.host,
      header: ex.header('x-test'),
    }
    ex.setHeader('x-before', 'yes')
    try {
      await next()
    } finally {
      seen.push({
        ...before,
        route: ex.route(),
        status: ex.status,
        error: ex.error,
        aborted: ex.aborted,
      })
      after?.()
    }
  }
}

function provides(values: Record<string, unknown>): Middleware {
  return async function provide(ex, next) {
    for (const [k, v] of Object.entries(values)) ex.set(k, v)
    await next()
  }
}

const port = (url: string): string => new URL(url).host

/** A request body whose chunks arrive 20 ms apart. */
function slowBody(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let i = 0
  return new ReadableStream({
    async pull(controller) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20))
      const chunk = chunks[i++]
      if (chunk === undefined) controller.close()
      else controller.enqueue(encoder.encode(chunk))
    },
  })
}

export const coreScenarios: Scenario[] = [
  {
    name: 'maps request fields, route template, status, response headers and values',
    async run(adapter) {
      const seen: Seen[] = []
      await withServer(
        adapter,
        {
          middleware: [recorder(seen), provides({ answer: 42 })],
          routes: [
            {
              method: 'GET',
              path: '/users/:id',
              handler: (c) => ({
                status: 201,
                json: { id: c.params.id, answer: c.value('answer') },
              }),
            },
          ],
        },
        async (url) => {
          const res = await fetch(`${url}/users/42?x=1`, { headers: { 'X-Test': 'v' } })
          expect(res.status).toBe(201)
          expect(res.headers.get('x-before')).toBe('yes')
          expect(await res.json()).toEqual({ id: '42', answer: 42 })
          expect(seen).toEqual([
            {
              method: 'GET',
              path: '/users/42',
              scheme: 'http',
              host: port(url),
              header: 'v',
              route: '/users/:id',
              status: 201,
              error: undefined,
              aborted: false,
            },
          ])
        },
      )
    },
  },
  {
    name: 'reports the full template under a prefix, and the status of a late async answer',
    async run(adapter) {
      const seen: Seen[] = []
      await withServer(
        adapter,
        {
          middleware: [recorder(seen)],
          routes: [
            {
              method: 'PUT',
              prefix: '/api/v1',
              path: '/orders/:orderId',
              handler: async () => {
                // Answer a few turns later: next() must not resolve before the response.
                await new Promise((resolve) => setTimeout(resolve, 5))
                return { status: 202, text: 'accepted' }
              },
            },
          ],
        },
        async (url) => {
          expect((await fetch(`${url}/api/v1/orders/7`, { method: 'PUT' })).status).toBe(202)
          expect(seen.map((s) => [s.method, s.path, s.route, s.status])).toEqual([
            ['PUT', '/api/v1/orders/7', '/api/v1/orders/:orderId', 202],
          ])
        },
      )
    },
  },
  {
    name: 'unmatched requests share one route value; a handler 404 keeps its template',
    async run(adapter) {
      const seen: Seen[] = []
      await withServer(
        adapter,
        {
          middleware: [recorder(seen)],
          routes: [
            {
              method: 'GET',
              path: '/users/:id',
              handler: () => ({ status: 404, json: { title: 'Not Found' } }),
            },
          ],
        },
        async (url) => {
          await (await fetch(`${url}/nope/1`)).arrayBuffer()
          await (await fetch(`${url}/nope/2`)).arrayBuffer()
          await (await fetch(`${url}/users/1`, { method: 'DELETE' })).arrayBuffer()
          await (await fetch(`${url}/users/9`)).arrayBuffer()
          expect(seen.map((s) => [s.route, s.status])).toEqual([
            [UNMATCHED_ROUTE, 404],
            [UNMATCHED_ROUTE, 404],
            [UNMATCHED_ROUTE, 404],
            ['/users/:id', 404],
          ])
        },
      )
    },
  },
  {
    name: 'records errors thrown by handlers, sync and async, and the app still answers',
    async run(adapter) {
      const seen: Seen[] = []
      const sync = new Error('sync boom')
      const later = new TypeError('async boom')
      await withServer(
        adapter,
        {
          middleware: [recorder(seen)],
          routes: [
            {
              method: 'GET',
              path: '/sync',
              handler: () => {
                throw sync
              },
            },
            {
              method: 'GET',
              prefix: '/api',
              path: '/async/:id',
              handler: async () => {
                await new Promise((r) => setImmediate(r))
                throw later
              },
            },
          ],
        },
        async (url) => {
          const a = await fetch(`${url}/sync`)
          await a.arrayBuffer()
          const b = await fetch(`${url}/api/async/1`)
          await b.arrayBuffer()
          expect([a.status, b.status]).toEqual([adapter.errorStatus, adapter.errorStatus])
          expect(seen.map((s) => [s.route, s.status, s.error])).toEqual([
            ['/sync', adapter.errorStatus, sync],
            ['/api/async/:id', adapter.errorStatus, later],
          ])
        },
      )
    },
  },
  {
    name: 'short-circuits with respond(): handler not run, earlier headers kept',
    async run(adapter) {
      const seen: Seen[] = []
      let ran = false
      const reject: Middleware = async function reject(ex) {
        respondProblem(ex, new ValidationError('bad', [{ path: 'id', message: 'required' }]))
      }
      await withServer(
        adapter,
        {
          middleware: [recorder(seen), reject],
          routes: [
            {
              method: 'GET',
              path: '/x',
              handler: () => {
                ran = true
                return { text: 'x' }
              },
            },
          ],
        },
        async (url) => {
          const res = await fetch(`${url}/x`)
          expect(res.status).toBe(400)
          expect(res.headers.get('content-type')).toBe('application/problem+json')
          expect(res.headers.get('x-before')).toBe('yes')
          expect(await res.json()).toEqual({
            title: 'Bad Request',
            status: 400,
            code: 'VALIDATION',
            detail: 'bad',
            errors: [{ path: 'id', message: 'required' }],
          })
          expect(ran).toBe(false)
          expect(seen.map((s) => [s.status, s.error])).toEqual([[400, undefined]])
        },
      )
    },
  },
  {
    name: 'a middleware that neither calls next() nor responds yields a 500',
    async run(adapter) {
      const forgetful: Middleware = async function forgetful() {}
      await withServer(
        adapter,
        {
          middleware: [forgetful],
          routes: [{ method: 'GET', path: '/', handler: () => ({ text: 'x' }) }],
        },
        async (url) => {
          const res = await fetch(url)
          await res.arrayBuffer()
          expect(res.status).toBe(500)
        },
      )
    },
  },
  {
    name: 'a middleware that throws synchronously (not async) answers 500 and the server lives on',
    async run(adapter) {
      let calls = 0
      let reached = 0
      const strict: Middleware = function strict(_ex, next) {
        // A plain function, not `async`, and outermost: nothing async around it catches
        // its throw but the chain itself.
        if (calls++ === 0) throw new Error('checked synchronously')
        return next()
      }
      const inner: Middleware = async function inner(_ex, next) {
        reached++
        await next()
      }
      await withServer(
        adapter,
        {
          middleware: [strict, inner],
          routes: [{ method: 'GET', path: '/', handler: () => ({ text: 'ok' }) }],
        },
        async (url) => {
          const first = await fetch(url)
          await first.arrayBuffer()
          expect(first.status).toBe(adapter.errorStatus)
          expect(reached).toBe(0)
          // The same server answers the next request: nothing escaped the listener.
          const second = await fetch(url)
          expect(await second.text()).toBe('ok')
          expect(reached).toBe(1)
        },
      )
    },
  },
  {
    name: 'a client disconnect aborts the request signal with ClientClosedError and unwinds the onion',
    async run(adapter) {
      const seen: Seen[] = []
      const started = deferred()
      const unwound = deferred()
      let reason: unknown
      const share: Middleware = async function share(ex, next) {
        ex.set('signal', ex.signal)
        await next()
      }
      await withServer(
        adapter,
        {
          middleware: [recorder(seen, () => unwound.resolve()), share],
          routes: [
            {
              method: 'GET',
              path: '/hang',
              handler: async (c) => {
                const signal = c.value('signal') as AbortSignal
                started.resolve()
                await new Promise((resolve) =>
                  signal.addEventListener('abort', resolve, { once: true }),
                )
                reason = signal.reason
                return { text: 'too late' }
              },
            },
          ],
        },
        async (url) => {
          const client = new AbortController()
          const pending = fetch(`${url}/hang`, { signal: client.signal }).catch(() => undefined)
          await within(started.promise, 2000, 'handler start')
          client.abort()
          await pending
          await within(unwound.promise, 2000, 'onion unwound')
          expect(reason).toBeInstanceOf(ClientClosedError)
          expect(abortKind(reason)).toBe('client-disconnect')
          expect(seen.map((s) => [s.route, s.aborted])).toEqual([['/hang', true]])
        },
      )
    },
  },
  {
    name: 'async context set by a middleware (the active span) reaches handlers, with and without a body',
    async run(adapter) {
      const spanContext = {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: 1,
      }
      const withSpan: Middleware = async function withSpan(_ex, next) {
        const ctx = trace.setSpan(context.active(), trace.wrapSpanContext(spanContext))
        await context.with(ctx, next)
      }
      const activeSpanId = (): string | undefined => trace.getActiveSpan()?.spanContext().spanId
      const handler = async (c: { body(): Promise<unknown> }) => {
        const before = activeSpanId()
        const body = await c.body()
        return { json: { before, after: activeSpanId(), body: body ?? null } }
      }
      await withServer(
        adapter,
        {
          middleware: [withSpan],
          routes: [
            { method: 'GET', path: '/ctx', handler },
            { method: 'POST', path: '/ctx', handler },
          ],
        },
        async (url) => {
          const get = await fetch(`${url}/ctx`)
          expect(await get.json()).toEqual({
            before: spanContext.spanId,
            after: spanContext.spanId,
            body: null,
          })
          // The body arrives after the headers, so body parsing really runs on later
          // stream events (where frameworks lose the async context), not on buffered data.
          const post = await fetch(`${url}/ctx`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: slowBody(['{"a":', '1}']),
            duplex: 'half',
          } as RequestInit)
          expect(await post.json()).toEqual({
            before: spanContext.spanId,
            after: spanContext.spanId,
            body: { a: 1 },
          })
        },
      )
    },
  },
]
