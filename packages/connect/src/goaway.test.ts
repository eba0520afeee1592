/**
 * connect-es#1768: a GOAWAY on an idle HTTP/2 connection (what load balancers send after
 * their idle timeout) must not take the client down, and the next call must reconnect.
 */
import type { Http2Session } from 'node:http2'
import { constants } from 'node:http2'
import { createClient } from '@connectrpc/connect'
import { createGrpcTransport } from '@connectrpc/connect-node'
import { afterEach, describe, expect, it } from 'vitest'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import { clientDeadline, clientRetry } from './index.ts'
import type { TestServer } from './testing.ts'
import { startServer } from './testing.ts'

let server: TestServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

describe('GOAWAY on an idle connection', () => {
  it('the next call opens a new connection and succeeds; nothing is thrown uncaught', async () => {
    server = await startServer((router) =>
      router.service(EchoService, {
        echo: (req) => ({ text: req.text }),
        append: (req) => ({ text: req.text }),
      }),
    )
    const sessions: Http2Session[] = []
    server.server.on('session', (s) => sessions.push(s))
    const client = createClient(
      EchoService,
      createGrpcTransport({
        baseUrl: server.baseUrl,
        // The documented setting: keep the idle connection checked with PINGs.
        pingIntervalMs: 1000,
        pingIdleConnection: true,
        interceptors: [clientRetry({ baseDelayMs: 1, maxDelayMs: 5 }), clientDeadline()],
      }),
    )
    expect((await client.echo({ text: 'one' })).text).toBe('one')
    for (let round = 0; round < 3; round++) {
      const idle = sessions.at(-1) as Http2Session
      idle.goaway(constants.NGHTTP2_NO_ERROR)
      // Calls right after the GOAWAY, racing the connection's close.
      // A refused stream was never processed: even the non-idempotent Append is resent.
      const texts = await Promise.all([
        client.echo({ text: `a${round}` }),
        client.append({ text: `b${round}` }),
      ])
      expect(texts.map((t) => t.text)).toEqual([`a${round}`, `b${round}`])
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect(sessions.length).toBeGreaterThanOrEqual(2)
  })
})
