/**
 * `@sturdy/rate-limit`: the middleware keys by the connection's peer address (which every
 * adapter reports as `ex.remoteAddress`), answers 429 problem+json with `Retry-After` and
 * draft-10 headers without running the handler, and believes `X-Forwarded-For` only
 * through an explicit `trustProxy`.
 */

import type { Middleware } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { clientIp, rateLimit, slidingWindow, tokenBucket } from '@sturdy/rate-limit'
import { expect } from 'vitest'
import { withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

export const rateLimitScenarios: Scenario[] = [
  {
    name: 'rate limit: per client address; 429 problem+json, Retry-After and RateLimit headers; the handler never runs',
    async run(adapter) {
      const peers: (string | undefined)[] = []
      const peer: Middleware = async function peer(ex, next) {
        peers.push(ex.remoteAddress)
        await next()
      }
      const guard = rateLimit({
        limiter: {
          name: 'api',
          algorithm: slidingWindow({ limit: 2, windowMs: 60_000 }),
          clock: manualClock(),
        },
      })
      let calls = 0
      await withServer(
        adapter,
        {
          middleware: [peer, guard],
          routes: [
            {
              method: 'GET',
              path: '/items/:id',
              handler: (c) => {
                calls++
                return { json: { id: c.params.id } }
              },
            },
          ],
        },
        async (url) => {
          const ok = await fetch(`${url}/items/1`, {
            headers: { 'x-forwarded-for': '198.51.100.1' },
          })
          expect(ok.status).toBe(200)
          expect(await ok.json()).toEqual({ id: '1' })
          expect(ok.headers.get('ratelimit-policy')).toBe('"api";q=2;w=60')
          expect(ok.headers.get('ratelimit')).toBe('"api";r=1;t=120')
          // a forged X-Forwarded-For is no new client: no proxy is trusted
          expect(
            (await fetch(`${url}/items/2`, { headers: { 'x-forwarded-for': '198.51.100.2' } }))
              .status,
          ).toBe(200)
          const refused = await fetch(`${url}/items/3`)
          expect(refused.status).toBe(429)
          expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/)
          expect(refused.headers.get('retry-after')).toBe('90')
          expect(refused.headers.get('ratelimit')).toBe('"api";r=0;t=90')
          expect(await refused.json()).toMatchObject({
            type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
            status: 429,
            code: 'RATE_LIMITED',
            'violated-policies': ['api'],
          })
          expect(calls).toBe(2)
          expect(peers.map((p) => p?.replace(/^::ffff:/, ''))).toEqual([
            '127.0.0.1',
            '127.0.0.1',
            '127.0.0.1',
          ])
        },
      )
    },
  },
  {
    name: 'rate limit: behind one trusted proxy, X-Forwarded-For tells clients apart',
    async run(adapter) {
      const guard = rateLimit({
        limiter: { algorithm: tokenBucket({ limit: 1, windowMs: 60_000 }), clock: manualClock() },
        key: clientIp({ trustProxy: 1 }),
      })
      await withServer(
        adapter,
        {
          middleware: [guard],
          routes: [{ method: 'GET', path: '/ping', handler: () => ({ text: 'pong' }) }],
        },
        async (url) => {
          const as = (client: string) =>
            fetch(`${url}/ping`, { headers: { 'x-forwarded-for': `6.6.6.6, ${client}` } }).then(
              async (res) => {
                await res.arrayBuffer()
                return res.status
              },
            )
          expect(await as('203.0.113.1')).toBe(200)
          expect(await as('203.0.113.1')).toBe(429)
          expect(await as('203.0.113.2')).toBe(200)
        },
      )
    },
  },
]
