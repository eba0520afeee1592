/** `@sturdy/breaker`: the fail-fast middleware answers 503 without running the handler. */

import { breakerMiddleware } from '@sturdy/breaker'
import { manualClock } from '@sturdy/core/testing'
import { expect } from 'vitest'
import { withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

export const breakerScenarios: Scenario[] = [
  {
    name: 'breaker: failing route trips, then fail-fast 503 + Retry-After without running the handler',
    async run(adapter) {
      const clock = manualClock(1000)
      const guard = breakerMiddleware({
        breakers: {
          clock,
          breaker: { readyToTrip: (counts) => counts.consecutiveFailures >= 3, openMs: 30_000 },
        },
      })
      let calls = 0
      await withServer(
        adapter,
        {
          middleware: [guard],
          routes: [
            {
              method: 'GET',
              path: '/flaky/:id',
              handler: () => {
                calls++
                throw new Error('upstream down')
              },
            },
            { method: 'GET', path: '/fine', handler: () => ({ text: 'ok' }) },
          ],
        },
        async (url) => {
          const statuses: number[] = []
          for (let i = 1; i <= 5; i++) {
            const res = await fetch(`${url}/flaky/${i}`)
            statuses.push(res.status)
            if (res.status === 503) {
              expect(res.headers.get('retry-after')).toBe('30')
              expect(await res.json()).toMatchObject({ status: 503, code: 'BROKEN_CIRCUIT' })
            } else {
              await res.arrayBuffer()
            }
          }
          expect(statuses).toEqual([500, 500, 500, 503, 503])
          expect(calls).toBe(3)
          expect(guard.breakers.get('GET /flaky/:id').state).toBe('open')
          // Other routes keep their own breaker.
          expect((await fetch(`${url}/fine`)).status).toBe(200)
        },
      )
    },
  },
]
