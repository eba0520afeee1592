/**
 * `@sturdy/chaos`: route-scoped fault injection and the admin answer the same in every
 * framework, and an injected request is marked (header and exchange value).
 */
import { chaosAdmin, chaosMiddleware } from '@sturdy/chaos'
import { PROBLEM_CONTENT_TYPE } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { deadline } from '@sturdy/timeout'
import { expect } from 'vitest'
import { within, withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'

export const chaosScenarios: Scenario[] = [
  {
    name: 'chaos: a fault scoped to GET /flaky/:id answers 503 problem+json, marked, without running the handler; other routes and methods untouched',
    async run(adapter) {
      const ran: string[] = []
      const fault = chaosMiddleware({
        name: 'flaky-down',
        kind: 'fault',
        injectionRate: 1,
        routes: ['GET /flaky/:id'],
      })
      await withServer(
        adapter,
        {
          middleware: [fault],
          routes: [
            {
              method: 'GET',
              path: '/flaky/:id',
              handler: (c) => {
                ran.push(`GET ${c.params.id}`)
                return { text: 'real' }
              },
            },
            {
              method: 'POST',
              path: '/flaky/:id',
              handler: () => {
                ran.push('POST')
                return { text: 'posted' }
              },
            },
            { method: 'GET', path: '/fine', handler: () => ({ text: 'fine' }) },
          ],
        },
        async (url) => {
          const res = await fetch(`${url}/flaky/1`)
          expect(res.status).toBe(503)
          expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE)
          expect(res.headers.get('x-sturdy-chaos')).toBe('fault; name=flaky-down')
          expect(await res.json()).toMatchObject({ status: 503, code: 'CHAOS_FAULT' })
          const post = await fetch(`${url}/flaky/1`, { method: 'POST' })
          expect([post.status, await post.text()]).toEqual([200, 'posted'])
          const fine = await fetch(`${url}/fine`)
          expect([fine.status, await fine.text()]).toEqual([200, 'fine'])
          expect(fine.headers.get('x-sturdy-chaos')).toBeNull()
          expect(ran).toEqual(['POST'])
        },
      )
    },
  },
  {
    name: 'chaos: outcome answers 503 + Retry-After; behaviour runs first and the handler sees the mark',
    async run(adapter) {
      const outage = chaosMiddleware({
        name: 'orders-outage',
        kind: 'outcome',
        injectionRate: 1,
        routes: ['/orders'],
      })
      const drill = chaosMiddleware({
        name: 'side-effect',
        kind: 'behaviour',
        injectionRate: 1,
        routes: ['GET /users/:id'],
        behaviour: () => {
          order.push('behaviour')
        },
      })
      const order: string[] = []
      await withServer(
        adapter,
        {
          middleware: [outage, drill],
          routes: [
            { method: 'GET', path: '/orders', handler: () => ({ text: 'never' }) },
            {
              method: 'GET',
              path: '/users/:id',
              handler: (c) => {
                order.push('handler')
                return { json: { chaos: c.value('chaos') ?? null } }
              },
            },
          ],
        },
        async (url) => {
          const res = await fetch(`${url}/orders`)
          expect(res.status).toBe(503)
          expect(res.headers.get('retry-after')).toBe('1')
          expect(await res.json()).toMatchObject({ code: 'CHAOS_OUTCOME' })
          const user = await fetch(`${url}/users/7`)
          expect(user.status).toBe(200)
          expect(await user.json()).toEqual({ chaos: [{ name: 'side-effect', kind: 'behaviour' }] })
          expect(order).toEqual(['behaviour', 'handler'])
        },
      )
    },
  },
  {
    name: 'chaos: latency holds the request on the clock, then the handler runs',
    async run(adapter) {
      const clock = manualClock()
      let ran = false
      const slow = chaosMiddleware({ kind: 'latency', injectionRate: 1, latencyMs: 500, clock })
      await withServer(
        adapter,
        {
          middleware: [slow],
          routes: [
            {
              method: 'GET',
              path: '/slow',
              handler: () => {
                ran = true
                return { text: 'done' }
              },
            },
          ],
        },
        async (url) => {
          const pending = fetch(`${url}/slow`)
          for (let i = 0; i < 200 && clock.pending() === 0; i++) {
            await new Promise((r) => setTimeout(r, 5))
          }
          expect(clock.pending()).toBe(1)
          await clock.advanceAsync(499)
          expect(ran).toBe(false)
          await clock.advanceAsync(1)
          const res = await within(pending, 2000, 'delayed answer')
          expect([res.status, await res.text()]).toEqual([200, 'done'])
          expect(res.headers.get('x-sturdy-chaos')).toBe('latency; name=chaos-latency')
          expect(ran).toBe(true)
        },
      )
    },
  },
  {
    name: 'chaos: hang never answers until the deadline aborts it: 504, handler never runs',
    async run(adapter) {
      const clock = manualClock(1000)
      let ran = false
      await withServer(
        adapter,
        {
          middleware: [
            deadline({ budgetMs: 100, clock }),
            chaosMiddleware({ kind: 'hang', injectionRate: 1 }),
          ],
          routes: [
            {
              method: 'GET',
              path: '/stuck',
              handler: () => {
                ran = true
                return { text: 'never' }
              },
            },
          ],
        },
        async (url) => {
          const pending = fetch(`${url}/stuck`)
          await new Promise((r) => setTimeout(r, 50))
          await clock.advanceAsync(100)
          const res = await within(pending, 2000, '504 answer')
          expect(res.status).toBe(504)
          expect(ran).toBe(false)
        },
      )
    },
  },
  {
    name: 'chaos admin: reads and changes settings at run time, refuses bad input with problem+json',
    async run(adapter) {
      const fault = chaosMiddleware({ name: 'drill', kind: 'fault', injectionRate: 1 })
      await withServer(
        adapter,
        {
          middleware: [chaosAdmin({ controls: [fault], enabled: true }), fault],
          routes: [{ method: 'GET', path: '/work', handler: () => ({ text: 'worked' }) }],
        },
        async (url) => {
          expect((await fetch(`${url}/work`)).status).toBe(503)
          const list = await fetch(`${url}/_chaos`)
          expect(list.status).toBe(200)
          expect(await list.json()).toMatchObject({
            chaos: [{ name: 'drill', kind: 'fault', enabled: true, injectionRate: 1 }],
          })
          const bad = await fetch(`${url}/_chaos/drill/injection-rate/2`, { method: 'PUT' })
          expect(bad.status).toBe(400)
          expect(bad.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE)
          await bad.arrayBuffer()
          const off = await fetch(`${url}/_chaos/drill/enabled/false`, { method: 'PUT' })
          expect(await off.json()).toMatchObject({ enabled: false })
          const work = await fetch(`${url}/work`)
          expect([work.status, await work.text()]).toEqual([200, 'worked'])
        },
      )
    },
  },
  {
    name: 'chaos admin: off by default — its paths fall through to the app',
    async run(adapter) {
      const fault = chaosMiddleware({ name: 'drill', kind: 'fault', injectionRate: 0 })
      await withServer(
        adapter,
        {
          middleware: [chaosAdmin({ controls: [fault] }), fault],
          routes: [{ method: 'GET', path: '/work', handler: () => ({ text: 'worked' }) }],
        },
        async (url) => {
          const res = await fetch(`${url}/_chaos/drill/enabled/true`, { method: 'PUT' })
          await res.arrayBuffer()
          expect(res.status).toBe(404)
          expect(fault.settings().injectionRate).toBe(0)
        },
      )
    },
  },
]
