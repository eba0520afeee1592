import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node'
import { isClientClosedError, isTimeoutError, remaining, VALUES } from '@sturdy/core'
import { afterEach, describe, expect, it } from 'vitest'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import { clientDeadline, serverDeadline } from './index.ts'
import type { TestServer } from './testing.ts'
import { aborted, deferred, startServer } from './testing.ts'
import { callContext, valuesOf } from './values.ts'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('serverDeadline + clientDeadline over a real HTTP/2 server', () => {
  it('a call past its deadline gets DEADLINE_EXCEEDED and the handler signal aborts', async () => {
    const reason = deferred<unknown>()
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          async echo(req, ctx) {
            if (req.text === 'warm-up') return {}
            reason.resolve(await aborted(ctx.signal))
            throw new Error('late')
          },
        }),
      { interceptors: [serverDeadline()] },
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({
        baseUrl: server.baseUrl,
        interceptors: [clientDeadline({ marginMs: 100 })],
      }),
    )
    // With the connection up, the server's deadline (the client's minus the margin)
    // comes first: the handler sees a TimeoutError, not the client hanging up.
    await client.echo({ text: 'warm-up' })
    const started = performance.now()
    const error = await client.echo({ text: 'hi' }, { timeoutMs: 300 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectError)
    expect((error as ConnectError).code).toBe(Code.DeadlineExceeded)
    expect(performance.now() - started).toBeLessThan(2000)
    expect(isTimeoutError(await reason.promise)).toBe(true)
  })

  it('answers a spent deadline at once, without running the handler', async () => {
    let ran = 0
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          echo() {
            ran++
            return { text: 'ran' }
          },
        }),
      { interceptors: [serverDeadline()] },
    )
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.baseUrl }))
    for (const value of ['0m', '0n', '0S']) {
      const error = await client
        .echo({ text: 'x' }, { headers: { 'grpc-timeout': value } })
        .catch((e: unknown) => e)
      expect((error as ConnectError).code).toBe(Code.DeadlineExceeded)
    }
    expect(ran).toBe(0)
    // The server keeps serving.
    expect((await client.echo({ text: 'ok' })).text).toBe('ran')
  })

  it('shares the deadline and signal with the handler through valuesOf(ctx), shrunk by the caller', async () => {
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          echo(_req, ctx) {
            const values = valuesOf(ctx)
            expect(values[VALUES.signal]).toBe(ctx.signal)
            const left = remaining(values[VALUES.deadline] as number)
            return { text: 'ok', budgetMs: BigInt(Math.round(left)) }
          },
        }),
      { interceptors: [serverDeadline({ budgetMs: 10_000 })] },
    )
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.baseUrl }))
    const own = await client.echo({})
    expect(Number(own.budgetMs)).toBeGreaterThan(9000)
    expect(Number(own.budgetMs)).toBeLessThanOrEqual(10_000)
    const sent = await client.echo({}, { timeoutMs: 800 })
    expect(Number(sent.budgetMs)).toBeGreaterThan(500)
    expect(Number(sent.budgetMs)).toBeLessThanOrEqual(800)
  })

  it('client cancel aborts the handler signal with ClientClosedError', async () => {
    const reason = deferred<unknown>()
    const entered = deferred()
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          async echo(_req, ctx) {
            entered.resolve()
            reason.resolve(await aborted(ctx.signal))
            return {}
          },
        }),
      { interceptors: [serverDeadline()] },
    )
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.baseUrl }))
    const controller = new AbortController()
    const call = client.echo({}, { signal: controller.signal }).catch((e: unknown) => e)
    await entered.promise
    controller.abort()
    expect(((await call) as ConnectError).code).toBe(Code.Canceled)
    expect(isClientClosedError(await reason.promise)).toBe(true)
  })

  it('shutdown aborts calls in flight with UNAVAILABLE and refuses new ones', async () => {
    const shutdown = new AbortController()
    const entered = deferred()
    const reasons: unknown[] = []
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          async echo(_req, ctx) {
            entered.resolve()
            reasons.push(await aborted(ctx.signal))
            return {}
          },
        }),
      { interceptors: [serverDeadline({ shutdown: shutdown.signal })] },
    )
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.baseUrl }))
    const call = client.echo({}).catch((e: unknown) => e)
    await entered.promise
    shutdown.abort()
    expect(((await call) as ConnectError).code).toBe(Code.Unavailable)
    expect((reasons[0] as Error).name).toBe('ShutdownError')
    const later = await client.echo({}).catch((e: unknown) => e)
    expect((later as ConnectError).code).toBe(Code.Unavailable)
  })

  it('the client stamps what is left of the inbound deadline, minus the margin, in each protocol', async () => {
    const seen: Array<{ grpc: string | null; connect: string | null }> = []
    server = await startServer((router) =>
      router.service(EchoService, {
        echo(_req, ctx) {
          seen.push({
            grpc: ctx.requestHeader.get('grpc-timeout'),
            connect: ctx.requestHeader.get('connect-timeout-ms'),
          })
          return {}
        },
      }),
    )
    const interceptors = [clientDeadline({ marginMs: 50 })]
    const grpc = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors }),
    )
    const connect = createClient(
      EchoService,
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '2', interceptors }),
    )
    // 10 s left: room for a loaded machine; the bounds prove the stamp is what is left minus
    // the margin, not a default.
    const values = { [VALUES.deadline]: performance.now() + 10_000 }
    await grpc.echo({}, callContext(values))
    await connect.echo({}, callContext(values, { timeoutMs: 60_000 }))
    const grpcMs = Number(seen[0]?.grpc?.slice(0, -1)) / 1000 // µs for ~9950 ms
    expect(seen[0]?.grpc).toMatch(/^\d{1,8}u$/)
    expect(grpcMs).toBeGreaterThan(5000)
    expect(grpcMs).toBeLessThanOrEqual(9950)
    expect(seen[1]?.grpc).toBeNull()
    expect(Number(seen[1]?.connect)).toBeGreaterThan(5000)
    expect(Number(seen[1]?.connect)).toBeLessThanOrEqual(9950)
  })

  it('the client refuses to send when the inbound deadline has no time left', async () => {
    let ran = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        echo() {
          ran++
          return {}
        },
      }),
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [clientDeadline()] }),
    )
    const values = { [VALUES.deadline]: performance.now() + 2 }
    const error = await client.echo({}, callContext(values)).catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.DeadlineExceeded)
    expect(ran).toBe(0)
  })

  it("the inbound request's abort cancels the call: DEADLINE_EXCEEDED for its deadline", async () => {
    const entered = deferred()
    const handlerReason = deferred<unknown>()
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          async echo(_req, ctx) {
            entered.resolve()
            handlerReason.resolve(await aborted(ctx.signal))
            return {}
          },
        }),
      { interceptors: [serverDeadline()] },
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [clientDeadline()] }),
    )
    const inbound = new AbortController()
    const call = client
      .echo({}, callContext({ [VALUES.signal]: inbound.signal }))
      .catch((e: unknown) => e)
    await entered.promise
    const { TimeoutError } = await import('@sturdy/core')
    inbound.abort(new TimeoutError())
    expect(((await call) as ConnectError).code).toBe(Code.DeadlineExceeded)
    expect(isClientClosedError(await handlerReason.promise)).toBe(true)
  })
})
