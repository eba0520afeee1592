import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient as createRpcClient } from '@connectrpc/connect'
import { createGrpcTransport } from '@connectrpc/connect-node'
import { serve } from '@hono/node-server'
import { createClient } from '@sturdy/client'
import { abortKind, remaining, VALUES } from '@sturdy/core'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import { clientDeadline, serverDeadline, serverErrors, toSturdyError } from './index.ts'
import { aborted, deferred, startServer } from './testing.ts'
import { callContext, valuesOf } from './values.ts'

describe('one deadline across HTTP → gRPC → HTTP', () => {
  it('each hop sees a smaller budget, and all three stop at the deadline', async () => {
    const t0 = performance.now()
    const at = (): number => performance.now() - t0
    const seen: Record<string, number> = {}

    // Hop 3: a plain HTTP upstream that never answers; it notes its budget and when the
    // caller hung up.
    const upstreamClosed = deferred<number>()
    const upstream = createHttpServer((req, res) => {
      seen.upstreamBudget = Number(req.headers['x-request-timeout-ms'])
      res.on('close', () => upstreamClosed.resolve(at()))
    })
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
    const http = createClient({ retry: false, breaker: false })

    // Hop 2: a gRPC service whose handler calls the upstream with its own deadline.
    const handlerAborted = deferred<{ at: number; kind: string }>()
    const grpc = await startServer(
      (router) =>
        router.service(EchoService, {
          async echo(_req, ctx) {
            const values = valuesOf(ctx)
            seen.grpcBudget = remaining(values[VALUES.deadline] as number)
            void aborted(ctx.signal).then((reason) =>
              handlerAborted.resolve({ at: at(), kind: abortKind(reason) }),
            )
            await http.fetch(`${upstreamUrl}/slow`, { context: values })
            return {}
          },
        }),
      { interceptors: [serverDeadline(), serverErrors()] },
    )
    const users = createRpcClient(
      EchoService,
      // A margin wider than the default 5 ms: the first call's connection setup counts as
      // transit, and on a busy host hop 1's own cancel could otherwise reach hop 2 first.
      createGrpcTransport({
        baseUrl: grpc.baseUrl,
        interceptors: [clientDeadline({ marginMs: 50 })],
      }),
    )

    // Hop 1: an HTTP service with a 300 ms deadline calling the gRPC service.
    const app = new Hono().use(sturdy(deadline({ budgetMs: 300 }))).get('/hop', async (c) => {
      seen.httpBudget = remaining(c.var.deadline)
      try {
        return c.json(await users.echo({}, callContext(c)))
      } catch (error) {
        throw toSturdyError(error)
      }
    })
    app.onError(problemErrorHandler())
    const front = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
    await new Promise<void>((resolve) => front.once('listening', resolve))
    const frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`

    try {
      const started = at()
      const res = await fetch(`${frontUrl}/hop`)
      const answeredAt = at()
      expect(res.status).toBe(504)
      expect(res.headers.get('content-type')).toBe('application/problem+json')

      expect(seen.httpBudget).toBeLessThanOrEqual(300)
      expect(seen.grpcBudget).toBeLessThan(seen.httpBudget as number)
      expect(seen.upstreamBudget).toBeLessThan(seen.grpcBudget as number)
      expect(seen.upstreamBudget).toBeGreaterThan(0)

      // All three stop at the deadline (slack for a loaded machine, never seconds).
      expect(answeredAt - started).toBeGreaterThanOrEqual(240)
      expect(answeredAt - started).toBeLessThan(1500)
      const handler = await handlerAborted.promise
      expect(handler.kind).toBe('deadline')
      expect(handler.at - started).toBeLessThan(1500)
      expect((await upstreamClosed.promise) - started).toBeLessThan(1500)
    } finally {
      await http.close()
      await new Promise<void>((resolve) => front.close(() => resolve()))
      await grpc.close()
      upstream.closeAllConnections()
      await new Promise<void>((resolve) => upstream.close(() => resolve()))
    }
  })
})
