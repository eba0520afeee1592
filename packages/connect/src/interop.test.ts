/**
 * An independent gRPC implementation (grpc-js, with the .proto files loaded at run time
 * by proto-loader, not our generated code) calls the service and the health service
 * over the gRPC protocol.
 */
import { fileURLToPath } from 'node:url'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import { abortKind } from '@sturdy/core'
import { afterEach, describe, expect, it } from 'vitest'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import { grpcHealth, serverDeadline, serverErrors } from './index.ts'
import type { TestServer } from './testing.ts'
import { aborted, deferred, startServer } from './testing.ts'

const protoDir = fileURLToPath(new URL('../proto', import.meta.url))

// biome-ignore lint/suspicious/noExplicitAny: grpc-js builds its client classes at run time.
type Loaded = any

function load(file: string): Loaded {
  const definition = protoLoader.loadSync(file, {
    includeDirs: [protoDir],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
  })
  return grpc.loadPackageDefinition(definition)
}

let server: TestServer | undefined
const clients: grpc.Client[] = []
afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  await server?.close()
  server = undefined
})

function unary<T = grpc.ServiceError>(
  client: Loaded,
  method: string,
  request: object,
  options: grpc.CallOptions = {},
) {
  return new Promise<T>((resolve, reject) => {
    client[method](
      request,
      new grpc.Metadata(),
      options,
      (error: grpc.ServiceError | null, res: T) => (error === null ? resolve(res) : reject(error)),
    )
  })
}

describe('grpc-js calls the Connect server over gRPC', () => {
  it('calls a method, the health service, an unknown method, and honours its deadline', async () => {
    const handlerAbort = deferred<unknown>()
    const health = grpcHealth({ services: { 'sturdy.test.v1.EchoService': 'SERVING' } })
    server = await startServer(
      (router) => {
        health.register(router)
        router.service(EchoService, {
          async echo(req, ctx) {
            if (req.text === 'hang') {
              handlerAbort.resolve(await aborted(ctx.signal))
              throw new Error('late')
            }
            if (req.text === 'boom') throw new Error('secret detail')
            return { text: req.text.toUpperCase() }
          },
        })
      },
      { interceptors: [serverDeadline(), serverErrors()] },
    )
    const target = `127.0.0.1:${server.port}`
    const echoPkg = load('sturdy/test/v1/echo_service.proto')
    const healthPkg = load('grpc/health/v1/health.proto')
    const echo = new echoPkg.sturdy.test.v1.EchoService(target, grpc.credentials.createInsecure())
    const healthClient = new healthPkg.grpc.health.v1.Health(
      target,
      grpc.credentials.createInsecure(),
    )
    clients.push(echo, healthClient)

    expect(await unary<{ text: string }>(echo, 'echo', { text: 'hi' })).toMatchObject({
      text: 'HI',
    })

    expect(await unary(healthClient, 'check', { service: '' })).toEqual({ status: 'SERVING' })
    expect(await unary(healthClient, 'check', { service: 'sturdy.test.v1.EchoService' })).toEqual({
      status: 'SERVING',
    })
    const notFound = await unary(healthClient, 'check', { service: 'x.Y' }).catch(
      (e: grpc.ServiceError) => e,
    )
    expect(notFound.code).toBe(grpc.status.NOT_FOUND)

    const internal = await unary(echo, 'echo', { text: 'boom' }).catch((e: grpc.ServiceError) => e)
    expect(internal.code).toBe(grpc.status.INTERNAL)
    expect(internal.details).toBe('internal error')

    // grpc-js sends its deadline as grpc-timeout; the handler's signal aborts at it.
    const late = await unary(echo, 'echo', { text: 'hang' }, { deadline: Date.now() + 150 }).catch(
      (e) => e,
    )
    expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED)
    // Whichever clock runs out first: ours, or grpc-js hanging up at its own.
    expect(['deadline', 'client-disconnect']).toContain(abortKind(await handlerAbort.promise))

    // A method the server does not have.
    const unknownCtor = grpc.makeGenericClientConstructor(
      {
        nope: {
          path: '/sturdy.test.v1.EchoService/Nope',
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: Buffer) => v,
          requestDeserialize: (v: Buffer) => v,
          responseSerialize: (v: Buffer) => v,
          responseDeserialize: (v: Buffer) => v,
        },
      },
      'Nope',
    )
    const nope = new unknownCtor(target, grpc.credentials.createInsecure())
    clients.push(nope)
    const unimplemented = await unary(nope, 'nope', Buffer.alloc(0)).catch(
      (e: grpc.ServiceError) => e,
    )
    expect(unimplemented.code).toBe(grpc.status.UNIMPLEMENTED)

    // Health Watch, streamed to grpc-js.
    const updates: string[] = []
    await new Promise<void>((resolve, reject) => {
      const call = healthClient.watch({ service: 'sturdy.test.v1.EchoService' })
      call.on('data', (res: { status: string }) => {
        updates.push(res.status)
        if (updates.length === 1) health.setStatus('sturdy.test.v1.EchoService', 'NOT_SERVING')
        else call.cancel()
      })
      call.on('error', (e: grpc.ServiceError) =>
        e.code === grpc.status.CANCELLED ? resolve() : reject(e),
      )
    })
    expect(updates).toEqual(['SERVING', 'NOT_SERVING'])
    health.close()
  })
})
