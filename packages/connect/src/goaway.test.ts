/**
 * connect-es#1768: a GOAWAY on an idle HTTP/2 connection (what load balancers send after
 * their idle timeout) must not take the client down, and the next call must reconnect.
 */
import type { Http2Session } from 'node:http2'
import { constants } from 'node:http2'
import { Code, ConnectError, createClient } from '@connectrpc/connect'
import { createGrpcTransport } from '@connectrpc/connect-node'
import { afterEach, describe, expect, it } from 'vitest'
import { EchoService } from './gen/sturdy/test/v1/echo_service_pb.ts'
import { clientBreaker, clientDeadline, clientRetry, toSturdyError } from './index.ts'
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

// Node's HTTP/2 server limits how fast a client may reset streams (nghttp2's rapid-reset
// defence, CVE-2023-44487: a burst of 1,000, then 33/s; not configurable before Node 22).
// A gateway whose callers' deadlines fire and whose clients abort resets streams at that
// rate, and the server then closes the whole session with GOAWAY INTERNAL_ERROR: every
// call in flight on it fails, and connect-node reports INTERNAL — a 500 for a connection
// that went away (found by the reliability suite's leak run).
describe('a session the server closes under the calls (too many stream resets)', () => {
  /**
   * Starts `echo` (the first one answers after 10 s, later ones at once), then resets
   * hanging `append` calls on the same connection until the echo settles.
   */
  async function echoThroughResets(
    interceptors: Parameters<typeof createGrpcTransport>[0]['interceptors'],
  ) {
    let echoes = 0
    server = await startServer((router) =>
      router.service(EchoService, {
        async echo(req, ctx) {
          if (echoes++ === 0) {
            await new Promise((resolve) => {
              const timer = setTimeout(resolve, 10_000)
              ctx.signal.addEventListener('abort', () => resolve(clearTimeout(timer)))
            })
          }
          return { text: req.text }
        },
        async append(_req, ctx) {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
          return {}
        },
      }),
    )
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors }),
    )
    let settled = false
    const victim = client.echo({ text: 'v' }).finally(() => {
      settled = true
    })
    victim.catch(() => {})
    // Bounded: 8 s of resets, 20 at a time, each sent before it is reset.
    const until = performance.now() + 8000
    while (!settled && performance.now() < until) {
      const aborts = Array.from({ length: 20 }, () => new AbortController())
      for (const a of aborts) client.append({}, { signal: a.signal }).catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, 2))
      for (const a of aborts) a.abort()
      await new Promise((resolve) => setImmediate(resolve))
    }
    return victim
  }

  it('fails the calls in flight with UNAVAILABLE (a 503 through toSturdyError), not INTERNAL', async () => {
    const error = (await echoThroughResets([clientDeadline()]).catch(
      (e: unknown) => e,
    )) as ConnectError
    expect(error).toBeInstanceOf(ConnectError)
    expect(error.code).toBe(Code.Unavailable)
    expect(toSturdyError(error)).toMatchObject({ status: 503 })
  })

  it('a call safe to repeat is retried on a new connection and succeeds', async () => {
    const res = await echoThroughResets([
      clientRetry({ baseDelayMs: 1, maxDelayMs: 5 }),
      clientDeadline(),
    ])
    expect(res.text).toBe('v')
  })
  it('the calls a lost session takes with it do not trip the breaker (one event, not N failures)', async () => {
    server = await startServer((router) =>
      router.service(EchoService, {
        async echo(req, ctx) {
          if (req.text === 'hang') {
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
          }
          return { text: req.text }
        },
        async append(_req, ctx) {
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
          return {}
        },
      }),
    )
    // gobreaker's default: more than 5 consecutive failures trip.
    const breaker = clientBreaker({ breakers: { breaker: { openMs: 60_000 } } })
    const client = createClient(
      EchoService,
      createGrpcTransport({ baseUrl: server.baseUrl, interceptors: [breaker, clientDeadline()] }),
    )
    const victims = Array.from({ length: 8 }, () =>
      client.echo({ text: 'hang' }).then(
        () => 'answered',
        (error: unknown) => (error as ConnectError).code,
      ),
    )
    let settled = 0
    for (const v of victims) void v.then(() => settled++)
    const until = performance.now() + 8000
    while (settled < victims.length && performance.now() < until) {
      const aborts = Array.from({ length: 20 }, () => new AbortController())
      for (const a of aborts) client.append({}, { signal: a.signal }).catch(() => {})
      await new Promise((resolve) => setTimeout(resolve, 2))
      for (const a of aborts) a.abort()
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(await Promise.all(victims)).toEqual(Array(8).fill(Code.Unavailable))
    expect(breaker.breakers.get(EchoService.typeName).state).toBe('closed')
    expect((await client.echo({ text: 'after' })).text).toBe('after')
  })
})
