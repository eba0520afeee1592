import { connect as h2connect } from 'node:http2'
import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node'
import { BrokenCircuitError } from '@sturdy/breaker'
import { problemResponse, TimeoutError, ValidationError } from '@sturdy/core'
import { afterEach, describe, expect, it } from 'vitest'
import { BadRequestSchema, RetryInfoSchema } from './gen/google/rpc/error_details_pb.ts'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import {
  isRpcStatusError,
  rpcCodeOf,
  serverBreaker,
  serverErrors,
  toConnectError,
  toSturdyError,
} from './index.ts'
import type { TestServer } from './testing.ts'
import { startServer } from './testing.ts'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('errors both ways', () => {
  it('maps Sturdy errors to codes, and unknown errors to INTERNAL without a leak', () => {
    expect(toConnectError(new TimeoutError()).code).toBe(Code.DeadlineExceeded)
    const open = toConnectError(new BrokenCircuitError('users', 'open', 1500))
    expect(open.code).toBe(Code.Unavailable)
    expect(open.metadata.get('grpc-retry-pushback-ms')).toBe('1500')
    expect(open.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(1n)
    const invalid = toConnectError(new ValidationError('bad', [{ path: 'id', message: 'NaN' }]))
    expect(invalid.code).toBe(Code.InvalidArgument)
    expect(invalid.findDetails(BadRequestSchema)[0]?.fieldViolations[0]?.field).toBe('id')
    const secret = toConnectError(new Error('password=hunter2 at db.ts:12'))
    expect(secret.code).toBe(Code.Internal)
    expect(secret.rawMessage).toBe('internal error')
    expect(rpcCodeOf(new Error('x'))).toBe('INTERNAL')
  })

  it('maps codes back to Sturdy errors that render as the right HTTP answer', () => {
    const deadline = toSturdyError(new ConnectError('slow', Code.DeadlineExceeded))
    expect(problemResponse(deadline).status).toBe(504)
    const invalid = toSturdyError(
      toConnectError(new ValidationError('bad', [{ path: 'id', message: 'NaN' }])),
    )
    // A local Sturdy cause is returned as it is.
    expect(invalid).toBeInstanceOf(ValidationError)
    const remote = toSturdyError(
      new ConnectError('bad', Code.InvalidArgument, undefined, [
        {
          desc: BadRequestSchema,
          value: { fieldViolations: [{ field: 'a.b', description: 'x' }] },
        },
      ]),
    )
    expect((remote as ValidationError).issues).toEqual([{ path: 'a.b', message: 'x' }])
    const unavailable = toSturdyError(
      new ConnectError('busy', Code.Unavailable, { 'grpc-retry-pushback-ms': '2500' }),
    )
    expect(isRpcStatusError(unavailable)).toBe(true)
    const answer = problemResponse(unavailable)
    expect(answer.status).toBe(503)
    expect(answer.headers['retry-after']).toBe('3')
    expect(problemResponse(toSturdyError(new ConnectError('gone', Code.NotFound))).status).toBe(404)
  })

  it('serverErrors: the caller gets the mapped code, field details, and no internals', async () => {
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          echo(req) {
            if (req.text === 'invalid') {
              throw new ValidationError('invalid echo', [{ path: 'text', message: 'too rude' }])
            }
            if (req.text === 'timeout') throw new TimeoutError()
            throw new Error('SELECT * FROM users -- secret')
          },
        }),
      { interceptors: [serverErrors()] },
    )
    for (const transport of [
      createGrpcTransport({ baseUrl: server.baseUrl }),
      createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '2' }),
    ]) {
      const client = createClient(EchoService, transport)
      const invalid = (await client.echo({ text: 'invalid' }).catch((e) => e)) as ConnectError
      expect(invalid.code).toBe(Code.InvalidArgument)
      expect(invalid.findDetails(BadRequestSchema)[0]?.fieldViolations).toMatchObject([
        { field: 'text', description: 'too rude' },
      ])
      const timeout = (await client.echo({ text: 'timeout' }).catch((e) => e)) as ConnectError
      expect(timeout.code).toBe(Code.DeadlineExceeded)
      const internal = (await client.echo({ text: 'x' }).catch((e) => e)) as ConnectError
      expect(internal.code).toBe(Code.Internal)
      expect(internal.rawMessage).toBe('internal error')
      expect(JSON.stringify(internal)).not.toContain('secret')
    }
  })

  it('serverBreaker: a failing method is refused at once with pushback; others keep serving', async () => {
    let calls = 0
    const breaker = serverBreaker({ breakers: { breaker: { openMs: 20_000 } } })
    server = await startServer(
      (router) =>
        router.service(EchoService, {
          echo() {
            calls++
            throw new Error('database down')
          },
          put(req) {
            return { text: req.text }
          },
        }),
      { interceptors: [breaker, serverErrors()] },
    )
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.baseUrl }))
    for (let i = 0; i < 6; i++) await client.echo({}).catch(() => {})
    expect(calls).toBe(6)
    const refused = (await client.echo({}).catch((e) => e)) as ConnectError
    expect(calls).toBe(6)
    expect(refused.code).toBe(Code.Unavailable)
    expect(Number(refused.metadata.get('grpc-retry-pushback-ms'))).toBeGreaterThan(19_000)
    expect(refused.findDetails(RetryInfoSchema)).toHaveLength(1)
    expect((await client.put({ text: 'still here' })).text).toBe('still here')
  })
})

describe('bad input on the wire', () => {
  it('malformed, unknown and oversized messages get the right codes, and the server keeps serving', async () => {
    server = await startServer(
      (router) => router.service(EchoService, { echo: (req) => ({ text: req.text }) }),
      { readMaxBytes: 1024, interceptors: [serverErrors()] },
    )
    const client = createClient(EchoService, createGrpcTransport({ baseUrl: server.baseUrl }))

    // Oversized: the server refuses to read more than readMaxBytes.
    const big = (await client
      .echo({ payload: new Uint8Array(64 * 1024) })
      .catch((e) => e)) as ConnectError
    expect(big.code).toBe(Code.ResourceExhausted)

    // Unknown method: HTTP 404, which gRPC clients read as UNIMPLEMENTED (the interop
    // test checks grpc-js does); Connect's own client says so too.
    const unknown = await rawGrpc(
      server.baseUrl,
      '/sturdy.test.v1.EchoService/Nope',
      envelope(new Uint8Array()),
    )
    expect(unknown.httpStatus).toBe(404)

    // Malformed protobuf: field 1 declared as a 100-byte string with 2 bytes present.
    // INTERNAL, as grpc-go and grpc-java answer a request they cannot unmarshal.
    const malformed = await rawGrpc(
      server.baseUrl,
      '/sturdy.test.v1.EchoService/Echo',
      envelope(new Uint8Array([0x0a, 100, 0x41, 0x42])),
    )
    expect(malformed.grpcStatus).toBe(String(Code.Internal))

    // A truncated envelope (says 50 bytes, sends 3).
    const truncated = await rawGrpc(
      server.baseUrl,
      '/sturdy.test.v1.EchoService/Echo',
      new Uint8Array([0, 0, 0, 0, 50, 1, 2, 3]),
    )
    expect(truncated.grpcStatus).not.toBe('0')
    expect(truncated.grpcStatus).not.toBeUndefined()

    expect((await client.echo({ text: 'still serving' })).text).toBe('still serving')
  })
})

function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length)
  new DataView(out.buffer).setUint32(1, message.length)
  out.set(message, 5)
  return out
}

/** A hand-made gRPC call: what a broken or hostile client sends. */
async function rawGrpc(
  baseUrl: string,
  path: string,
  body: Uint8Array,
): Promise<{ grpcStatus: string | undefined; httpStatus: number | undefined }> {
  const session = h2connect(baseUrl)
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc+proto',
        te: 'trailers',
      })
      let status: string | undefined
      let httpStatus: number | undefined
      stream.on('response', (headers) => {
        httpStatus = headers[':status']
        const s = headers['grpc-status']
        if (s !== undefined) status = String(s)
      })
      stream.on('trailers', (trailers) => {
        const s = trailers['grpc-status']
        if (s !== undefined) status = String(s)
      })
      stream.on('data', () => {})
      stream.on('end', () => resolve({ grpcStatus: status, httpStatus }))
      stream.on('error', reject)
      stream.end(body)
    })
  } finally {
    session.close()
  }
}
