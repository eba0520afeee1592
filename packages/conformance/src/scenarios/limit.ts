/** `@sturdy/limit`: past the limit, 503 problem+json + Retry-After before the handler runs; `never` routes always answer. */

import { concurrencyLimit } from '@sturdy/limit'
import { expect } from 'vitest'
import { withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

export const limitScenarios: Scenario[] = [
  {
    name: 'limit: sheds past the limit with 503 + Retry-After without running the handler; health never shed',
    async run(adapter) {
      const limit = concurrencyLimit({
        limit: 2,
        routes: [{ route: 'GET /healthz', priority: 'never' }],
      })
      const gates: Array<() => void> = []
      let calls = 0
      const entered: Array<() => void> = []
      const inFlight = (n: number) =>
        new Promise<void>((resolve) => {
          const check = () => (calls >= n ? resolve() : entered.push(check))
          check()
        })
      await withServer(
        adapter,
        {
          middleware: [limit],
          routes: [
            {
              method: 'GET',
              path: '/work/:id',
              handler: async () => {
                calls++
                for (const wake of entered.splice(0)) wake()
                await new Promise<void>((r) => gates.push(r))
                return { json: { ok: true } }
              },
            },
            { method: 'GET', path: '/healthz', handler: () => ({ text: 'ok' }) },
          ],
        },
        async (url) => {
          const held = [fetch(`${url}/work/1`), fetch(`${url}/work/2`)]
          await inFlight(2)
          const shed = await fetch(`${url}/work/3`)
          expect(shed.status).toBe(503)
          expect(shed.headers.get('retry-after')).toBe('1')
          expect(shed.headers.get('content-type')).toContain('application/problem+json')
          expect(await shed.json()).toMatchObject({
            status: 503,
            code: 'OVERLOADED',
            reason: 'limit',
          })
          expect(calls).toBe(2)
          // Health probes are never shed, even with the limit full.
          const health = await fetch(`${url}/healthz`)
          expect(health.status).toBe(200)
          await health.arrayBuffer()
          for (const open of gates.splice(0)) open()
          for (const res of await Promise.all(held)) {
            expect(res.status).toBe(200)
            await res.arrayBuffer()
          }
          expect(limit.stats().inflight).toBe(0)
          const after = fetch(`${url}/work/4`)
          await inFlight(3)
          for (const open of gates.splice(0)) open()
          const res = await after
          expect(res.status).toBe(200)
          await res.arrayBuffer()
        },
      )
    },
  },
]
