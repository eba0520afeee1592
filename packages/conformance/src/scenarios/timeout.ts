/** `@sturdy/timeout`: the deadline answers 504 at once and aborts the handler's signal. */
import { request as httpRequest } from 'node:http'
import type { Middleware } from '@sturdy/core'
import { abortKind, PROBLEM_CONTENT_TYPE } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { deadline, TIMEOUT_HEADER } from '@sturdy/timeout'
import { expect } from 'vitest'
import type { HandlerResult } from '../harness.ts'
import { deferred, within, withoutProcessFailures, withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'
import type { Seen } from './core.ts'
import { recorder } from './core.ts'

export const timeoutScenarios: Scenario[] = [
  {
    name: 'deadline: 504 problem+json at the deadline, the handler signal aborted with a TimeoutError',
    async run(adapter) {
      const clock = manualClock(1000)
      const seen: Seen[] = []
      const started = deferred()
      const aborted = deferred<unknown>()
      let deadlineValue: unknown
      await withServer(
        adapter,
        {
          middleware: [recorder(seen), deadline({ budgetMs: 100, clock })],
          routes: [
            {
              method: 'GET',
              path: '/slow/:id',
              handler: async (c) => {
                const signal = c.value('signal') as AbortSignal
                deadlineValue = c.value('deadline')
                started.resolve()
                await new Promise((resolve) =>
                  signal.addEventListener('abort', resolve, { once: true }),
                )
                aborted.resolve(signal.reason)
                // What real work does when its fetch/query is aborted.
                throw signal.reason
              },
            },
          ],
        },
        async (url) => {
          const pending = fetch(`${url}/slow/1`)
          await within(started.promise, 2000, 'handler start')
          expect(deadlineValue).toBe(1100)
          await clock.advanceAsync(99)
          await clock.advanceAsync(1)
          const res = await within(pending, 2000, '504 answer')
          expect(res.status).toBe(504)
          expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE)
          expect(await res.json()).toMatchObject({ status: 504, code: 'TIMEOUT' })
          const reason = await within(aborted.promise, 2000, 'signal abort')
          expect(abortKind(reason)).toBe('deadline')
          expect(seen.map((s) => [s.route, s.status])).toEqual([['/slow/:id', 504]])
          // The connection survives: the late failure of the handler writes nothing.
          const again = await fetch(`${url}/nope`)
          await again.arrayBuffer()
          expect(again.status).toBe(404)
          // No timer outlives its request (the wheel may tick once more to find that out).
          await clock.advanceAsync(1000)
          expect(clock.pending()).toBe(0)
        },
      )
    },
  },
  {
    name: 'deadline: a caller deadline already spent gets 504 without running the handler',
    async run(adapter) {
      const clock = manualClock(1000)
      let ran = false
      await withServer(
        adapter,
        {
          middleware: [deadline({ budgetMs: 5000, clock })],
          routes: [
            {
              method: 'GET',
              path: '/work',
              handler: () => {
                ran = true
                return { text: 'done' }
              },
            },
          ],
        },
        async (url) => {
          const res = await fetch(`${url}/work`, { headers: { [TIMEOUT_HEADER]: '0' } })
          expect(res.status).toBe(504)
          expect(await res.json()).toMatchObject({ status: 504, code: 'TIMEOUT' })
          expect(ran).toBe(false)
          await clock.advanceAsync(10)
          expect(clock.pending()).toBe(0)
        },
      )
    },
  },
  {
    name: 'deadline: a handler answering after the 504 (callback style) is dropped; nothing crashes',
    async run(adapter) {
      const clock = manualClock(1000)
      const seen: Seen[] = []
      const late = deferred<HandlerResult>()
      const started = deferred()
      const failures = await withoutProcessFailures(() =>
        withServer(
          adapter,
          {
            middleware: [recorder(seen), deadline({ budgetMs: 100, clock })],
            routes: [
              {
                method: 'GET',
                path: '/late',
                handler: () => {
                  started.resolve()
                  return { later: late.promise }
                },
              },
            ],
          },
          async (url) => {
            const pending = fetch(`${url}/late`)
            await within(started.promise, 2000, 'handler start')
            await clock.advanceAsync(100)
            const res = await within(pending, 2000, '504 answer')
            expect(res.status).toBe(504)
            expect(await res.json()).toMatchObject({ status: 504, code: 'TIMEOUT' })
            // Now the handler answers: headers, a status, a body — all after the 504.
            late.resolve({ status: 200, headers: { 'x-late': '1' }, json: { late: true } })
            await new Promise((resolve) => setTimeout(resolve, 30))
            expect(seen.map((s) => s.status)).toEqual([504])
            // The server (and the connection pool) keeps serving.
            const again = await fetch(`${url}/nope`)
            await again.arrayBuffer()
            expect(again.status).toBe(404)
            await clock.advanceAsync(1000)
          },
        ),
      )
      expect(failures).toEqual([])
    },
  },
  {
    name: 'deadline: an async handler rejecting after the 504 (its aborted fetch) is dropped; nothing crashes',
    async run(adapter) {
      const clock = manualClock(1000)
      const started = deferred()
      const rejected = deferred()
      const failures = await withoutProcessFailures(() =>
        withServer(
          adapter,
          {
            middleware: [deadline({ budgetMs: 100, clock })],
            routes: [
              {
                method: 'GET',
                path: '/upstream',
                // The README handler: `await fetch(url, { signal })`, no try/catch.
                handler: async (c) => {
                  const signal = c.value('signal') as AbortSignal
                  started.resolve()
                  try {
                    await new Promise((_, reject) =>
                      signal.addEventListener('abort', () => reject(signal.reason), {
                        once: true,
                      }),
                    )
                  } finally {
                    setTimeout(() => rejected.resolve(), 0)
                  }
                  return { text: 'unreachable' }
                },
              },
            ],
          },
          async (url) => {
            const pending = fetch(`${url}/upstream`)
            await within(started.promise, 2000, 'handler start')
            await clock.advanceAsync(100)
            const res = await within(pending, 2000, '504 answer')
            expect(res.status).toBe(504)
            await res.arrayBuffer()
            await within(rejected.promise, 2000, 'handler rejection')
            const again = await fetch(`${url}/nope`)
            await again.arrayBuffer()
            expect(again.status).toBe(404)
            await clock.advanceAsync(1000)
          },
        ),
      )
      expect(failures).toEqual([])
    },
  },
  {
    name: 'deadline: 408, not 504, when the deadline passes while the request body is still arriving',
    async run(adapter) {
      const clock = manualClock(1000)
      const seen: Seen[] = []
      const arrived = deferred()
      const arrival: Middleware = async function arrival(_ex, next) {
        arrived.resolve()
        await next()
      }
      let ran = false
      await withServer(
        adapter,
        {
          middleware: [recorder(seen), arrival, deadline({ budgetMs: 100, clock })],
          routes: [
            {
              method: 'POST',
              path: '/upload',
              handler: async (c) => {
                await c.body()
                ran = true
                return { text: 'stored' }
              },
            },
          ],
        },
        async (url) => {
          // A client that sends the headers and half a JSON body, then stalls.
          const answer = deferred<{ status: number; type: string | undefined; body: string }>()
          const req = httpRequest(
            `${url}/upload`,
            { method: 'POST', headers: { 'content-type': 'application/json' } },
            (res) => {
              let body = ''
              res.setEncoding('utf8')
              res.on('data', (chunk: string) => {
                body += chunk
              })
              res.on('end', () =>
                answer.resolve({
                  status: res.statusCode ?? 0,
                  type: res.headers['content-type'],
                  body,
                }),
              )
            },
          )
          req.on('error', () => {})
          req.write('{"name":')
          await within(arrived.promise, 2000, 'request arrival')
          // Let the framework start reading the body before the deadline passes.
          await new Promise((resolve) => setTimeout(resolve, 20))
          await clock.advanceAsync(100)
          const res = await within(answer.promise, 2000, '408 answer')
          req.destroy()
          expect(res.status).toBe(408)
          expect(res.type).toBe(PROBLEM_CONTENT_TYPE)
          expect(JSON.parse(res.body)).toMatchObject({
            title: 'Request Timeout',
            status: 408,
            code: 'REQUEST_TIMEOUT',
          })
          expect(ran).toBe(false)
          expect(seen.map((s) => s.status)).toEqual([408])
          await clock.advanceAsync(1000)
        },
      )
    },
  },
]
