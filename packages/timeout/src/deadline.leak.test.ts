import { getEventListeners } from 'node:events'
import type { Exchange, Middleware, Next } from '@sturdy/core'
import { isTimeoutError, UNMATCHED_ROUTE } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { deadline, timeout, timerWheel } from './index.ts'

const warnings: Error[] = []
const unhandled: unknown[] = []
const onWarning = (w: Error): void => {
  warnings.push(w)
}
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason)
}
beforeEach(() => {
  warnings.length = 0
  unhandled.length = 0
  process.on('warning', onWarning)
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  await new Promise((resolve) => setImmediate(resolve))
  process.off('warning', onWarning)
  process.off('unhandledRejection', onUnhandled)
  expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  expect(unhandled).toEqual([])
})

/**
 * A bare Exchange, as small as an adapter can be: lazy signal, one response. It counts
 * writes, so "nothing written twice" is checked per request. Used for the 10,000-request
 * run because building 10,000 undici `Request`s through `app.request()` costs seconds on
 * a loaded 2-core machine; the Hono run below repeats the checks with fewer requests.
 */
class BareExchange implements Exchange {
  readonly method = 'GET'
  readonly path = '/work'
  readonly scheme = 'http'
  readonly host = undefined
  readonly responseSize = undefined
  readonly error = undefined
  status = 200
  deadline: number | undefined
  writes = 0
  readonly values = new Map<string, unknown>()
  #controller: AbortController | undefined
  #reason: unknown
  #aborted = false

  header(): string | undefined {
    return undefined
  }
  setHeader(): void {}
  route(): string {
    return UNMATCHED_ROUTE
  }
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }
  get aborted(): boolean {
    return this.#aborted
  }
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }
  get<T>(key: string): T | undefined {
    return this.values.get(key) as T | undefined
  }
  set(key: string, value: unknown): void {
    this.values.set(key, value)
  }
  respond(status: number): void {
    this.writes++
    this.status = status
  }
  get responded(): boolean {
    return this.writes > 0
  }
}

describe('deadline() under load', () => {
  it('10,000 requests whose deadlines fire leave no timer, listener or pending promise', async () => {
    const N = 10_000
    const clock = manualClock()
    const wheel = timerWheel({ clock })
    const shutdown = new AbortController()
    const mw = deadline({ wheel, budgetMs: 200, shutdown: shutdown.signal })
    // Each handler makes an outgoing call through a timeout policy on the request
    // signal, as a real handler would; policy and middleware share the wheel.
    const perCall = timeout(10_000, { wheel, mode: 'cooperative' })
    let handlersSettled = 0
    let sawDeadline = 0
    const exchanges: BareExchange[] = []
    const requests: Promise<void>[] = []
    for (let i = 0; i < N; i++) {
      const ex = new BareExchange()
      exchanges.push(ex)
      const next: Next = async () => {
        try {
          await perCall.execute(
            ({ signal }) =>
              new Promise<never>((_, reject) => {
                signal.addEventListener('abort', () => reject(signal.reason), { once: true })
              }),
            ex.get<AbortSignal>('signal'),
          )
        } catch (error) {
          if (isTimeoutError(error)) sawDeadline++
          throw error
        } finally {
          handlersSettled++
        }
      }
      requests.push(mw(ex, next))
    }
    expect(wheel.size).toBe(2 * N)
    expect(clock.pending()).toBe(1)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)

    await clock.advanceAsync(200)
    await Promise.all(requests) // every middleware promise resolved: none left pending
    await clock.advanceAsync(0) // the batched aborts
    for (let i = 0; i < 10 && handlersSettled < N; i++) {
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect([handlersSettled, sawDeadline]).toEqual([N, N])
    expect(exchanges.every((ex) => ex.writes === 1 && ex.status === 504)).toBe(true)
    expect(exchanges.every((ex) => ex.aborted)).toBe(true)

    expect(wheel.size).toBe(0)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    // The per-call deadlines were cancelled, not fired: the wheel's one timer is still
    // armed for their tick, finds nothing there, and arms nothing more.
    await clock.advanceAsync(10_000)
    expect(clock.pending()).toBe(0)
  }, 30_000)

  it('through Hono: 10,000 concurrent requests answer 504 once each and release everything', async () => {
    const N = 10_000
    const warnings: Error[] = []
    const onWarning = (w: Error): void => {
      warnings.push(w)
    }
    process.on('warning', onWarning)
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const clock = manualClock()
    const wheel = timerWheel({ clock })
    const shutdown = new AbortController()
    let outerDone = 0
    const outer: Middleware = async function countDone(ex, next) {
      await next()
      if (ex.status === 504 && ex.responded) outerDone++
    }
    const app = new Hono().use(
      sturdy(outer, deadline({ wheel, budgetMs: 200, shutdown: shutdown.signal })),
    )
    app.onError(problemErrorHandler())
    let started = 0
    let settled = 0
    app.get('/work', async (c) => {
      started++
      try {
        return await new Promise<Response>((_, reject) => {
          c.var.signal.addEventListener('abort', () => reject(c.var.signal.reason), {
            once: true,
          })
        })
      } finally {
        settled++
      }
    })
    const responses = Array.from({ length: N }, () => Promise.resolve(app.request('/work')))
    while (started < N) await new Promise((resolve) => setImmediate(resolve))
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)
    await clock.advanceAsync(200)
    const answers = await Promise.all(responses)
    expect(answers.every((r) => r.status === 504)).toBe(true)
    await clock.advanceAsync(0)
    for (let i = 0; i < 10 && settled < N; i++) await new Promise((r) => setImmediate(r))
    expect([started, settled, outerDone]).toEqual([N, N, N])
    expect(wheel.size).toBe(0)
    expect(clock.pending()).toBe(0)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    expect(timersAfter).toBeLessThanOrEqual(timersBefore)
    await new Promise((resolve) => setImmediate(resolve))
    process.off('warning', onWarning)
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning')
  }, 30_000)
})
