/** `@sturdy/logger`: one access line per request with the same fields on every framework. */
import { Writable } from 'node:stream'
import { requestLogger } from '@sturdy/logger'
import pino from 'pino'
import { expect } from 'vitest'
import { withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

function capture(): { logger: pino.Logger; lines(): Record<string, unknown>[] } {
  const raw: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') raw.push(line)
      callback()
    },
  })
  const logger = pino({ base: undefined, timestamp: false }, stream)
  return { logger, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

/** Drops what legitimately varies: timing, and the body size each framework reports. */
function stable(line: Record<string, unknown>): Record<string, unknown> {
  const { duration_ms: duration, res_size: size, err, ...rest } = line
  if ('method' in line) expect(typeof duration).toBe('number')
  expect(size === undefined || typeof size === 'number').toBe(true)
  if (err !== undefined) {
    const { stack, ...error } = err as Record<string, unknown>
    expect(typeof stack).toBe('string')
    return { ...rest, err: error }
  }
  return rest
}

export const loggerScenarios: Scenario[] = [
  {
    name: 'logger: request id echoed, handler logs bound to it, one access line with the same fields',
    async run(adapter) {
      const { logger, lines } = capture()
      let n = 0
      await withServer(
        adapter,
        {
          middleware: [requestLogger({ logger, generateRequestId: () => `gen-${++n}` })],
          routes: [
            {
              method: 'GET',
              path: '/users/:id',
              handler: (c) => {
                const log = c.value('log') as pino.Logger
                log.info({ user: c.params.id }, 'loading user')
                return { json: { requestId: c.value('requestId') } }
              },
            },
            {
              method: 'GET',
              path: '/boom',
              handler: () => {
                throw new Error('boom')
              },
            },
          ],
        },
        async (url) => {
          const ok = await fetch(`${url}/users/7`, { headers: { 'x-request-id': 'abc-123' } })
          expect(ok.headers.get('x-request-id')).toBe('abc-123')
          expect(await ok.json()).toEqual({ requestId: 'abc-123' })
          const boom = await fetch(`${url}/boom`)
          expect(boom.headers.get('x-request-id')).toBe('gen-1')
          await boom.arrayBuffer()
          await (await fetch(`${url}/nope`)).arrayBuffer()
          expect(lines().map(stable)).toEqual([
            { level: 30, req_id: 'abc-123', user: '7', msg: 'loading user' },
            {
              level: 30,
              req_id: 'abc-123',
              method: 'GET',
              route: '/users/:id',
              path: '/users/7',
              status: 200,
              msg: 'request completed',
            },
            {
              level: 50,
              req_id: 'gen-1',
              method: 'GET',
              route: '/boom',
              path: '/boom',
              status: 500,
              err: { type: 'Error', message: 'boom' },
              msg: 'request failed',
            },
            {
              level: 40,
              req_id: 'gen-2',
              method: 'GET',
              route: '__unmatched__',
              path: '/nope',
              status: 404,
              msg: 'request completed',
            },
          ])
        },
      )
    },
  },
]
