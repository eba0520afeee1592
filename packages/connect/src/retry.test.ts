import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createGrpcTransport } from '@connectrpc/connect-node'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import { clientBreaker, clientDeadline, clientRetry, isSafeToRetry } from './index.ts'
import type { TestServer } from './testing.ts'
import { startServer } from './testing.ts'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const fast = { baseDelayMs: 1, maxDelayMs: 5 }

describe('clientRetry', () => {
  it('reads retry safety from the proto idempotency_level', () => {
    expect(isSafeToRetry(EchoService.method.echo)).toBe(true) // NO_SIDE_EFFECTS
    expect(isSafeToRetry(EchoService.method.put)).toBe(true) // IDEMPOTENT
    expect(isSafeToRetry(EchoService.method.append)).toBe(false) // default
  })

  it('retries UNAVAILABLE on a NO_SIDE_EFFECTS method, saying how many attempts came before', async () => {
    const previous: Array<string | null> = []
    server = await startServer((router) =>
      router.service(EchoService, {
        echo(req, ctx) {
          previous.push(ctx.requestHeader.get('grpc-previous-rpc-attempts'))
          if (previous.length < 3) throw new ConnectError('try again', Code.Unavailable)
          return { text: req.text }
        },
      }),
    )
    const retry = clientRetry(fast)
    const events: number[] = []
    retry.events.on('retry', (e) => events.push(e.attempt))
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [retry, clientDeadline()] }),
    )
    expect((await client.echo({ text: 'hi' })).text).toBe('hi')
    expect(previous).toEqual([null, '1', '2'])
    expect(events).toEqual([1, 2])
  })

  it('never retries a method the proto does not mark safe', async () => {
    let calls = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        append() {
          calls++
          throw new ConnectError('down', Code.Unavailable)
        },
      }),
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [clientRetry(fast)] }),
    )
    const error = await client.append({ text: 'x' }).catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.Unavailable)
    expect(calls).toBe(1)
  })

  it('retries RESOURCE_EXHAUSTED only with pushback, and waits what the server asked', async () => {
    let calls = 0
    const times: number[] = []
    server = await startServer((router) =>
      router.service(EchoService, {
        echo(req) {
          calls++
          times.push(performance.now())
          if (req.text === 'no-pushback') throw new ConnectError('busy', Code.ResourceExhausted)
          if (calls === 1) {
            throw new ConnectError('busy', Code.ResourceExhausted, {
              'grpc-retry-pushback-ms': '120',
            })
          }
          return { text: 'ok' }
        },
      }),
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [clientRetry(fast)] }),
    )
    expect((await client.echo({ text: 'pushback' })).text).toBe('ok')
    expect(calls).toBe(2)
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(100)
    calls = 0
    const error = await client.echo({ text: 'no-pushback' }).catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.ResourceExhausted)
    expect(calls).toBe(1)
  })

  it('does not retry other codes', async () => {
    let calls = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        echo() {
          calls++
          throw new ConnectError('bad', Code.InvalidArgument)
        },
      }),
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [clientRetry(fast)] }),
    )
    const error = await client.echo({}).catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.InvalidArgument)
    expect(calls).toBe(1)
  })

  it('gives up at the deadline instead of sleeping past it', async () => {
    let calls = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        echo() {
          calls++
          throw new ConnectError('down', Code.Unavailable, { 'grpc-retry-pushback-ms': '20000' })
        },
      }),
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [clientRetry(fast)] }),
    )
    // The pushback (20 s) runs past the deadline (5 s): no sleep, the last error at once.
    // (Bounds far from both, so a busy host's pauses cannot decide it.)
    const started = performance.now()
    const error = await client.echo({}, { timeoutMs: 5000 }).catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.Unavailable)
    expect(calls).toBe(1)
    expect(performance.now() - started).toBeLessThan(2500)
  })

  it('stops when the shared budget is spent', async () => {
    let calls = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        echo() {
          calls++
          throw new ConnectError('down', Code.Unavailable)
        },
      }),
    )
    const retry = clientRetry({
      ...fast,
      maxAttempts: 5,
      budget: { ratio: 0, minRetriesPerSecond: 0.1 },
    })
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [retry] }),
    )
    // 0.1/s over 10 s is one retry in all: the first call gets it, the second none.
    await client.echo({}).catch(() => {})
    expect(calls).toBe(2)
    calls = 0
    const error = await client.echo({}).catch((e: unknown) => e)
    expect((error as ConnectError).code).toBe(Code.Unavailable)
    expect(calls).toBe(1)
  })
})

describe('clientBreaker', () => {
  it('an open breaker rejects at once with UNAVAILABLE and pushback, without a call', async () => {
    let calls = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        append() {
          calls++
          throw new ConnectError('boom', Code.Internal)
        },
      }),
    )
    const breaker = clientBreaker({ breakers: { breaker: { openMs: 30_000 } } })
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [breaker] }),
    )
    for (let i = 0; i < 6; i++) await client.append({}).catch(() => {})
    expect(calls).toBe(6)
    expect(breaker.breakers.get('sturdy.test.v1.EchoService').state).toBe('open')

    const started = performance.now()
    const error = (await client.append({}).catch((e: unknown) => e)) as ConnectError
    expect(performance.now() - started).toBeLessThan(1000)
    expect(calls).toBe(6)
    expect(error.code).toBe(Code.Unavailable)
    const pushback = Number(error.metadata.get('grpc-retry-pushback-ms'))
    expect(pushback).toBeGreaterThan(29_000)
    expect(pushback).toBeLessThanOrEqual(30_000)
  })

  it('a retry in front of the open breaker fails fast instead of sleeping out its open period', async () => {
    let calls = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        echo() {
          calls++
          throw new ConnectError('down', Code.Unavailable)
        },
      }),
    )
    const breaker = clientBreaker({ breakers: { breaker: { openMs: 30_000 } } })
    const client = createClient(
      EchoService,
      createGrpcTransport({
        baseUrl: server.baseUrl,
        interceptors: [clientRetry({ ...fast, maxAttempts: 3, budget: false }), breaker],
      }),
    )
    await client.echo({}).catch(() => {})
    await client.echo({}).catch(() => {})
    expect(calls).toBe(6)
    const started = performance.now()
    const error = (await client.echo({}).catch((e: unknown) => e)) as ConnectError
    expect(error.code).toBe(Code.Unavailable)
    expect(calls).toBe(6)
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('a deadline counts only when the call had at least minBudgetMs left when it was let through', async () => {
    // A service that never answers in time: every call ends on its deadline.
    server = await startServer((router) =>
      router.service(EchoService, {
        async echo(_req, ctx) {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
          throw new ConnectError('too slow', Code.DeadlineExceeded)
        },
      }),
    )
    const breaker = clientBreaker({ breakers: { breaker: { openMs: 60_000 } }, minBudgetMs: 40 })
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [breaker, clientDeadline()] }),
    )
    const key = 'sturdy.test.v1.EchoService'
    // Ten calls with nearly spent budgets: their deadlines say nothing about the service.
    for (let i = 0; i < 10; i++) {
      const error = (await client
        .echo({}, { timeoutMs: 5 })
        .catch((e: unknown) => e)) as ConnectError
      expect(error.code).toBe(Code.DeadlineExceeded)
    }
    expect(breaker.breakers.get(key).state).toBe('closed')
    expect(breaker.breakers.get(key).counts).toMatchObject({
      totalFailures: 0,
      totalExclusions: 10,
    })
    // Six calls with a fair budget that still runs out: the service is unhealthy.
    for (let i = 0; i < 6; i++) await client.echo({}, { timeoutMs: 60 }).catch(() => {})
    // (Connect rejects the caller's promise on its own timer, a moment before the
    // interceptors below it see the abort.)
    await vi.waitFor(() => expect(breaker.breakers.get(key).state).toBe('open'))
  })

  it('rejects a negative minBudgetMs', () => {
    expect(() => clientBreaker({ minBudgetMs: -1 })).toThrow(/minBudgetMs/)
  })
})
