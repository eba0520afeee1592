import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createGrpcTransport } from '@connectrpc/connect-node'
import { afterEach, describe, expect, it } from 'vitest'
import {
  Health,
  HealthCheckResponse_ServingStatus as Status,
} from './gen/grpc/health/v1/health_pb.ts'
import type { HealthSource } from './index.ts'
import { grpcHealth, serverDeadline } from './index.ts'
import type { TestServer } from './testing.ts'
import { startServer } from './testing.ts'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/** The shape `@sturdy/lifecycle`'s Lifecycle has: a state and its changes. */
function readiness(probeStatus = 200): HealthSource & { set(state: string): void } {
  let state = 'serving'
  const listeners = new Set<(s: string) => void>()
  return {
    get state() {
      return state
    },
    subscribe(fn) {
      listeners.add(fn)
      return () => listeners.delete(fn)
    },
    probe: async () => ({ status: probeStatus }),
    set(next: string) {
      state = next
      for (const fn of listeners) fn(next)
    },
  }
}

const USERS = 'acme.user.v1.UserService'

describe('grpcHealth', () => {
  it('Check answers SERVING, NOT_FOUND for an unknown service, and NOT_SERVING while draining', async () => {
    const source = readiness()
    const health = grpcHealth({ readiness: source, services: { [USERS]: 'SERVING' } })
    server = await startServer((router) => health.register(router))
    const client = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }))
    expect((await client.check({ service: '' })).status).toBe(Status.SERVING)
    expect((await client.check({ service: USERS })).status).toBe(Status.SERVING)
    const unknown = (await client
      .check({ service: 'nope.v1.Nope' })
      .catch((e) => e)) as ConnectError
    expect(unknown).toBeInstanceOf(ConnectError)
    expect(unknown.code).toBe(Code.NotFound)

    source.set('draining')
    expect((await client.check({ service: '' })).status).toBe(Status.NOT_SERVING)
    expect((await client.check({ service: USERS })).status).toBe(Status.NOT_SERVING)
    health.close()
  })

  it('Check("") runs the readiness checks', async () => {
    const health = grpcHealth({ readiness: readiness(503) })
    server = await startServer((router) => health.register(router))
    const client = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }))
    expect((await client.check({ service: '' })).status).toBe(Status.NOT_SERVING)
    health.close()
  })

  it('Watch sends the status, then every change; SERVICE_UNKNOWN stays open', async () => {
    const source = readiness()
    const health = grpcHealth({ readiness: source, services: { [USERS]: 'SERVING' } })
    server = await startServer((router) => health.register(router), {
      interceptors: [serverDeadline()],
    })
    const client = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }))
    const controller = new AbortController()
    const seen: Status[] = []
    const watching = (async () => {
      for await (const res of client.watch({ service: USERS }, { signal: controller.signal })) {
        seen.push(res.status)
        if (seen.length === 1) health.setStatus(USERS, 'NOT_SERVING')
        if (seen.length === 2) health.setStatus(USERS, 'SERVING')
        if (seen.length === 3) source.set('draining')
        if (seen.length === 4) controller.abort()
      }
    })().catch((e: unknown) => e)
    const ended = await watching
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING, Status.NOT_SERVING])
    expect((ended as ConnectError).code).toBe(Code.Canceled)

    const unknown = new AbortController()
    const first: Status[] = []
    const open = (async () => {
      for await (const res of client.watch(
        { service: 'later.v1.Later' },
        { signal: unknown.signal },
      )) {
        first.push(res.status)
        if (first.length === 1) health.setStatus('later.v1.Later', 'SERVING')
        else unknown.abort()
      }
    })().catch(() => {})
    await open
    expect(first).toEqual([Status.SERVICE_UNKNOWN, Status.NOT_SERVING])
    health.close()
  })

  it('close() ends every Watch and stops following the source', async () => {
    const source = readiness()
    const health = grpcHealth({ readiness: source })
    server = await startServer((router) => health.register(router))
    const client = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }))
    const seen: Status[] = []
    const watching = (async () => {
      for await (const res of client.watch({ service: '' })) {
        seen.push(res.status)
        health.close()
      }
    })()
    await watching
    expect(seen).toEqual([Status.SERVING])
  })
})

describe('grpcHealth with @sturdy/lifecycle', () => {
  it('follows a real lifecycle: NOT_SERVING from the first moment of a drain', async () => {
    const { lifecycle } = await import('@sturdy/lifecycle')
    // The check after drain() must answer before the delay ends and the signal aborts
    // the server's calls: a delay a busy host cannot outlast.
    const life = lifecycle({
      drainDelayMs: 1000,
      drainTimeoutMs: 50,
      abortGraceMs: 10,
      exit: () => {},
      logger: { info() {}, warn() {}, error() {} },
    })
    life.check('database', async () => {})
    const health = grpcHealth({ readiness: life })
    server = await startServer((router) => health.register(router), {
      interceptors: [serverDeadline({ shutdown: life.signal })],
    })
    const client = createClient(Health, createGrpcTransport({ baseUrl: server.baseUrl }))
    expect((await client.check({ service: '' })).status).toBe(Status.SERVING)
    const seen: Status[] = []
    const watching = (async () => {
      for await (const res of client.watch({ service: '' })) seen.push(res.status)
    })().catch((e: unknown) => e)
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    const drained = life.drain('test')
    expect((await client.check({ service: '' })).status).toBe(Status.NOT_SERVING)
    await drained
    // At the drain's bound the lifecycle's signal aborts: the open Watch ends.
    await watching
    expect(seen).toEqual([Status.SERVING, Status.NOT_SERVING])
    health.close()
  })
})
