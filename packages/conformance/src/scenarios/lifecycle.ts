/**
 * `@sturdy/lifecycle`: the drain on every framework's real server. Under keep-alive load
 * from 50 clients behind a simulated Kubernetes Service, no request is lost; a request
 * slower than the bound is answered 503 and its signal aborts; readiness fails at once.
 */
import { createServer } from 'node:http'
import type { Exchange, Middleware } from '@sturdy/core'
import { abortKind, PROBLEM_CONTENT_TYPE } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import type { DrainReport, LifecycleOptions } from '@sturdy/lifecycle'
import { lifecycle } from '@sturdy/lifecycle'
import { keepAliveLoad } from '@sturdy/lifecycle/testing'
import { expect } from 'vitest'
import { closeServer, deferred, listen, within, withServer } from '../harness.ts'
import type { Scenario } from '../scenario.ts'
import type { Seen } from './core.ts'
import { recorder } from './core.ts'

const quiet = { info() {}, warn() {}, error() {} }

/** A lifecycle that records its exit instead of ending the test runner. */
function testLifecycle(options: LifecycleOptions = {}) {
  const exits: number[] = []
  const life = lifecycle({ logger: quiet, exit: (code) => exits.push(code), ...options })
  return { life, exits }
}

/** Shares the request signal with handlers, as `deadline()` does. */
const shareSignal: Middleware = async function shareSignal(ex: Exchange, next) {
  ex.set('signal', ex.signal)
  await next()
}

export const lifecycleScenarios: Scenario[] = [
  {
    name: 'drain under keep-alive load from 50 clients: every request answered, no reset, exit 0 within the bound',
    timeoutMs: 60_000,
    async run(adapter) {
      // Real time: the load is real. On a busy machine connections wait long in the accept
      // queue; the listener stays open until they are served (up to half of drainTimeoutMs).
      const { life, exits } = testLifecycle({ drainDelayMs: 1000, drainTimeoutMs: 10_000 })
      await withServer(
        adapter,
        {
          middleware: [life.middleware()],
          routes: [
            {
              method: 'GET',
              path: '/users/:id',
              handler: async (c) => {
                await new Promise((resolve) => setTimeout(resolve, 2))
                return { json: { id: c.params.id } }
              },
            },
          ],
        },
        async (url, served) => {
          // The rest of the fleet, where the Service sends new connections once this
          // instance is out of rotation.
          const rest = createServer((_req, res) => res.end('another pod'))
          const fallback = await listen(rest)
          life.serve(served.server)
          const load = keepAliveLoad({ target: url, fallback, clients: 50, path: '/users/1' })
          await within(load.untilTargetServed(300), 20_000, 'load warm-up')
          const started = performance.now()
          const report: DrainReport = await within(life.drain(), 20_000, 'drain')
          const tookMs = performance.now() - started
          const result = await load.stop()
          await closeServer(rest)

          expect(result.failures).toEqual([])
          expect(Object.keys(result.completed)).toEqual(['200'])
          expect(result.connectionClose).toBeGreaterThan(0)
          expect(result.fromFallback).toBeGreaterThan(0)
          expect(report).toMatchObject({ exitCode: 0, aborted: 0, connectionsDestroyed: 0 })
          expect(report.drained).toBeGreaterThan(0)
          expect(exits).toEqual([0])
          expect(tookMs).toBeLessThan(life.boundMs)
          expect(served.server.listening).toBe(false)
        },
      )
    },
  },
  {
    name: 'a request slower than the bound: 503 problem+json with Retry-After, its signal aborted with a ShutdownError',
    async run(adapter) {
      const clock = manualClock(0)
      const { life, exits } = testLifecycle({
        clock,
        drainDelayMs: 0,
        drainTimeoutMs: 1000,
        abortGraceMs: 500,
      })
      const listening = deferred()
      const reason = deferred<unknown>()
      let deafStarted = false
      await withServer(
        adapter,
        {
          middleware: [life.middleware(), shareSignal],
          routes: [
            {
              method: 'GET',
              path: '/slow',
              handler: async (c) => {
                const signal = c.value('signal') as AbortSignal
                listening.resolve()
                await new Promise((resolve) =>
                  signal.addEventListener('abort', resolve, { once: true }),
                )
                reason.resolve(signal.reason)
                throw signal.reason
              },
            },
            {
              method: 'GET',
              path: '/deaf',
              handler: async () => {
                deafStarted = true
                // Ignores its signal: the bound answers it anyway.
                await new Promise((resolve) => setTimeout(resolve, 60_000).unref())
                return { text: 'too late' }
              },
            },
          ],
        },
        async (url, served) => {
          life.serve(served.server)
          const slow = fetch(`${url}/slow`)
          const deaf = fetch(`${url}/deaf`)
          await within(listening.promise, 2000, 'slow handler start')
          for (let i = 0; !deafStarted && i < 200; i++) await new Promise((r) => setTimeout(r, 5))
          const drained = life.drain()
          await clock.advanceAsync(1000)
          for (const pending of [slow, deaf]) {
            const res = await within(pending, 2000, '503 at the bound')
            expect(res.status).toBe(503)
            expect(res.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE)
            expect(res.headers.get('retry-after')).toBe('1')
            expect(await res.json()).toMatchObject({ status: 503, code: 'SHUTDOWN' })
          }
          expect(abortKind(await within(reason.promise, 2000, 'signal abort'))).toBe('shutdown')
          await clock.advanceAsync(500)
          const report = await within(drained, 2000, 'drain end')
          expect(report).toMatchObject({ inFlight: 2, aborted: 2, exitCode: 0 })
          expect(exits).toEqual([0])
        },
      )
    },
  },
  {
    name: 'readiness 503 the moment the drain starts, liveness 200; probes never reach the middleware after it',
    async run(adapter) {
      const clock = manualClock(0)
      const { life } = testLifecycle({ clock, drainDelayMs: 1000 })
      life.check('db', () => true)
      const seen: Seen[] = []
      await withServer(
        adapter,
        {
          middleware: [life.middleware(), recorder(seen)],
          routes: [{ method: 'GET', path: '/work', handler: () => ({ text: 'ok' }) }],
        },
        async (url, served) => {
          life.serve(served.server)
          const ready = await fetch(`${url}/readyz`)
          expect([ready.status, await ready.json()]).toEqual([
            200,
            { state: 'serving', checks: { db: { status: 'pass', durationMs: 0 } } },
          ])
          const drained = life.drain()
          const draining = await fetch(`${url}/readyz`)
          expect(draining.status).toBe(503)
          expect(draining.headers.get('content-type')).toBe(PROBLEM_CONTENT_TYPE)
          expect(await draining.json()).toMatchObject({ code: 'DRAINING', state: 'draining' })
          const live = await fetch(`${url}/healthz`)
          expect([live.status, await live.json()]).toEqual([200, { state: 'draining' }])
          // Business requests are still served during the delay, with Connection: close.
          const work = await fetch(`${url}/work`)
          expect([work.status, await work.text()]).toEqual([200, 'ok'])
          expect(seen.map((s) => s.route)).toEqual(['/work'])
          await clock.advanceAsync(1000)
          expect(await within(drained, 2000, 'drain end')).toMatchObject({ exitCode: 0 })
        },
      )
    },
  },
]
