// The drain's state machine, driven through the public API with a manual clock and
// Hono's app.request() (no server): probes, the timeline, stragglers, resources, exit.
// Connection handling on real servers is in server.test.ts; every framework under load
// is in packages/conformance.
import { EventEmitter } from 'node:events'
import type { Exchange, Middleware } from '@sturdy/core'
import { abortKind } from '@sturdy/core'
import type { ManualClock } from '@sturdy/core/testing'
import { manualClock } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import type { DrainReport, LifecycleLogger, LifecycleOptions, LifecycleState } from './index.ts'
import { lifecycle } from './index.ts'

interface Line {
  level: 'info' | 'warn' | 'error'
  msg: string
  fields: Record<string, unknown>
}

function recordingLogger(lines: Line[]): LifecycleLogger {
  const at =
    (level: Line['level']) =>
    (fields: object, msg: string): void => {
      lines.push({ level, msg, fields: { ...fields } as Record<string, unknown> })
    }
  return { info: at('info'), warn: at('warn'), error: at('error') }
}

/** A lifecycle on a manual clock, a Hono app mounting it, and what it logged and exited with. */
function setup(options: LifecycleOptions = {}, inner: Middleware[] = []) {
  const clock: ManualClock = manualClock(0)
  const lines: Line[] = []
  const exits: number[] = []
  const life = lifecycle({
    drainDelayMs: 1000,
    drainTimeoutMs: 2000,
    abortGraceMs: 500,
    clock,
    logger: recordingLogger(lines),
    exit: (code) => exits.push(code),
    ...options,
  })
  const app = new Hono().use(sturdy(life.middleware(), ...inner))
  app.onError((error, c) => c.text(String(abortKind(error)), 500))
  return { life, app, clock, lines, exits }
}

/** Resolves after `ms` on the manual clock, or rejects when `signal` aborts first. */
function work(clock: ManualClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clock.clearTimeout(timer)
      reject(signal.reason)
    })
  })
}

/** Shares the request signal with handlers, as `deadline()` does. */
const shareSignal: Middleware = async function shareSignal(ex: Exchange, next) {
  ex.set('signal', ex.signal)
  await next()
}

describe('probes', () => {
  it('liveness and readiness pass while serving, with every check in the body', async () => {
    const { life, app } = setup()
    life.check('db', () => true)
    const live = await app.request('/healthz')
    expect([live.status, live.headers.get('cache-control'), await live.json()]).toEqual([
      200,
      'no-store',
      { state: 'serving' },
    ])
    const ready = await app.request('/readyz')
    expect(ready.status).toBe(200)
    expect(ready.headers.get('content-type')).toBe('application/json')
    expect(await ready.json()).toEqual({
      state: 'serving',
      checks: { db: { status: 'pass', durationMs: 0 } },
    })
  })

  it('answers GET and HEAD (no body) on the configured paths and leaves the rest to the app', async () => {
    const { app } = setup({ livenessPath: '/live', readinessPath: '/ready' })
    app.post('/ready', (c) => c.text('the app'))
    const head = await app.request('/ready', { method: 'HEAD' })
    expect([head.status, await head.text()]).toEqual([200, ''])
    expect((await app.request('/live')).status).toBe(200)
    expect(await (await app.request('/ready', { method: 'POST' })).text()).toBe('the app')
    expect((await app.request('/healthz')).status).toBe(404)
  })

  it('never reaches the middleware mounted after it (metrics, logs, limiters)', async () => {
    const seen: string[] = []
    const record: Middleware = async function record(ex, next) {
      seen.push(ex.path)
      await next()
    }
    const { app } = setup({}, [record])
    app.get('/work', (c) => c.text('ok'))
    await app.request('/healthz')
    await app.request('/readyz')
    await app.request('/work')
    expect(seen).toEqual(['/work'])
  })

  it('a failing check makes readiness 503 problem+json naming it; the message goes to the log only', async () => {
    const { life, app, lines } = setup()
    life.check('db', () => {
      throw new Error('password=hunter2 rejected')
    })
    life.check('cache', () => false)
    life.check('queue', async () => 'fine')
    const res = await app.request('/readyz')
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const body = await res.json()
    expect(body).toEqual({
      title: 'Service Unavailable',
      status: 503,
      code: 'NOT_READY',
      detail: 'Failing checks: db, cache',
      state: 'serving',
      checks: {
        db: { status: 'fail', reason: 'error', durationMs: 0 },
        cache: { status: 'fail', reason: 'false', durationMs: 0 },
        queue: { status: 'pass', durationMs: 0 },
      },
    })
    expect(JSON.stringify(body)).not.toContain('hunter2')
    expect(lines.filter((l) => l.msg === 'readiness check failing').map((l) => l.fields)).toEqual([
      expect.objectContaining({
        check: 'db',
        reason: 'error',
        error: expect.stringContaining('hunter2'),
      }),
      expect.objectContaining({ check: 'cache', reason: 'false' }),
    ])
    // Liveness never looks at dependencies.
    expect((await app.request('/healthz')).status).toBe(200)
  })

  it('a hung check times out and fails without holding the probe, and its signal aborts', async () => {
    const { life, app, clock } = setup()
    let signal: AbortSignal | undefined
    life.check('db', (s) => {
      signal = s
      return new Promise(() => {}) // never settles
    })
    life.check('fast', () => true, { timeoutMs: 50 })
    const probe = Promise.resolve(app.request('/readyz'))
    await clock.advanceAsync(499)
    let done = false
    void probe.then(() => {
      done = true
    })
    await clock.advanceAsync(0)
    expect(done).toBe(false)
    await clock.advanceAsync(1)
    const res = await probe
    expect(res.status).toBe(503)
    expect((await res.json()).checks.db).toEqual({
      status: 'fail',
      reason: 'timeout',
      durationMs: 500,
    })
    expect(abortKind(signal?.reason)).toBe('deadline')
  })

  it('caches results for cacheMs, shares one run between concurrent probes, then runs again', async () => {
    const { life, app, clock } = setup({ checkCacheMs: 1000 })
    let runs = 0
    life.check('db', () => {
      runs++
      return work(clock, 10)
    })
    const both = Promise.all([app.request('/readyz'), app.request('/readyz')])
    await clock.advanceAsync(10)
    expect((await both).map((r) => r.status)).toEqual([200, 200])
    expect(runs).toBe(1)
    // Cached for 1000 ms from when the result came (t = 10).
    await clock.advanceAsync(999)
    expect((await app.request('/readyz')).status).toBe(200)
    expect(runs).toBe(1)
    await clock.advanceAsync(1)
    const again = app.request('/readyz')
    await clock.advanceAsync(10)
    expect((await again).status).toBe(200)
    expect(runs).toBe(2)
  })

  it('a check that recovers is seen recovering, even if an earlier run never settles', async () => {
    const { life, app, clock, lines } = setup({ checkCacheMs: 100, checkTimeoutMs: 50 })
    let hang = true
    life.check('db', () => (hang ? new Promise(() => {}) : true))
    const first = app.request('/readyz')
    await clock.advanceAsync(50)
    expect((await first).status).toBe(503)
    hang = false
    await clock.advanceAsync(100)
    expect((await app.request('/readyz')).status).toBe(200)
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['warn', 'readiness check failing'],
      ['info', 'readiness check passing'],
    ])
  })

  it('rejects a duplicate check name and nonsense timeouts', () => {
    const { life } = setup()
    life.check('db', () => true)
    expect(() => life.check('db', () => true)).toThrow(/already registered/)
    expect(() => life.check('x', () => true, { timeoutMs: 0 })).toThrow(RangeError)
    expect(() => lifecycle({ drainDelayMs: -1 })).toThrow(RangeError)
    expect(() => lifecycle({ drainTimeoutMs: Number.NaN })).toThrow(RangeError)
    expect(() => lifecycle({ livenessPath: '/x', readinessPath: '/x' })).toThrow(RangeError)
  })
})

describe('drain()', () => {
  it('fails readiness at once, keeps liveness, then stops; subscribers see every state', async () => {
    const { life, app, clock, exits } = setup()
    const states: LifecycleState[] = []
    life.subscribe((s) => states.push(s))
    let checked = 0
    life.check('db', () => {
      checked++
      return true
    })
    const drained = life.drain('test')
    expect(life.state).toBe('draining')
    const ready = await app.request('/readyz')
    expect([ready.status, (await ready.json()).code]).toEqual([503, 'DRAINING'])
    expect(checked).toBe(0) // no need to ask the dependencies
    expect((await app.request('/healthz')).status).toBe(200)
    await clock.advanceAsync(1000)
    const report = await drained
    expect(states).toEqual(['draining', 'stopped'])
    expect(exits).toEqual([0])
    expect(report.exitCode).toBe(0)
    const live = await app.request('/healthz')
    expect([live.status, (await live.json()).code]).toEqual([503, 'STOPPED'])
  })

  it('keeps serving during the delay; in-flight requests finish within the bound', async () => {
    const { life, app, clock, exits } = setup()
    app.get('/slow/:ms', async (c) => {
      await work(clock, Number(c.req.param('ms')))
      return c.text('done')
    })
    const early = app.request('/slow/2500') // started before the drain
    await clock.advanceAsync(0)
    const drained = life.drain()
    await clock.advanceAsync(900)
    const during = app.request('/slow/100') // started during the delay
    await clock.advanceAsync(100)
    expect([(await during).status, await (await during).text()]).toEqual([200, 'done'])
    await clock.advanceAsync(1500)
    expect([(await early).status, await (await early).text()]).toEqual([200, 'done'])
    const report = await drained
    expect(report).toMatchObject({ inFlight: 1, drained: 2, aborted: 0, exitCode: 0 })
    // Everything finished at 2500 ms: the drain did not wait out its bound.
    expect(report.durationMs).toBe(2500)
    expect(exits).toEqual([0])
  })

  it('a request slower than the bound gets 503 + Retry-After, and its signal aborts with a ShutdownError', async () => {
    const { life, app, clock } = setup({ retryAfterMs: 2000 }, [shareSignal])
    let reason: unknown
    app.get('/stuck', async (c) => {
      const signal = c.get('signal' as never) as AbortSignal
      try {
        await work(clock, 60_000, signal)
      } catch (error) {
        reason = error
        throw error
      }
      return c.text('too late')
    })
    app.get('/deaf', async (c) => {
      await work(clock, 60_000) // ignores its signal: still answered at the bound
      return c.text('too late')
    })
    let ran = false
    app.get('/late', (c) => {
      ran = true
      return c.text('ran')
    })
    const stuck = app.request('/stuck')
    const deaf = app.request('/deaf')
    await clock.advanceAsync(0)
    const drained = life.drain()
    await clock.advanceAsync(2999)
    expect(reason).toBeUndefined()
    await clock.advanceAsync(1)
    for (const res of [await stuck, await deaf]) {
      expect(res.status).toBe(503)
      expect(res.headers.get('retry-after')).toBe('2')
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(await res.json()).toMatchObject({ status: 503, code: 'SHUTDOWN' })
    }
    await clock.advanceAsync(0)
    expect(abortKind(reason)).toBe('shutdown')
    expect(life.signal.aborted).toBe(true)
    expect(abortKind(life.signal.reason)).toBe('shutdown')
    // Nothing was left to wait for: no abortGraceMs spent, no server to close.
    expect(await drained).toMatchObject({ inFlight: 2, drained: 0, aborted: 2, durationMs: 3000 })
    // A request arriving after the bound (on a connection still open) is refused at once.
    expect((await app.request('/late')).status).toBe(503)
    expect(ran).toBe(false)
  })

  it('closes resources in reverse order, each with its own timeout, and exits 1 if one fails', async () => {
    const { life, clock, exits, lines } = setup({ closeTimeoutMs: 300 })
    const order: string[] = []
    let telemetrySignal: AbortSignal | undefined
    life.onClose('telemetry', (signal) => {
      order.push('telemetry')
      telemetrySignal = signal
      return new Promise(() => {}) // hangs: times out
    })
    life.onClose('db', async () => {
      order.push('db')
      throw new Error('pool already closed')
    })
    life.onClose(
      'cache',
      () => {
        order.push('cache')
        return work(clock, 100)
      },
      { timeoutMs: 1000 },
    )
    expect(life.boundMs).toBe(1000 + 2000 + 500 + 300 + 300 + 1000)
    const drained = life.drain('SIGTERM')
    await clock.advanceAsync(1000 + 100 + 300)
    const report = await drained
    expect(order).toEqual(['cache', 'db', 'telemetry'])
    expect(report.resources).toEqual([
      { name: 'cache', outcome: 'closed', durationMs: 100 },
      { name: 'db', outcome: 'failed', durationMs: 0, error: 'Error: pool already closed' },
      { name: 'telemetry', outcome: 'timeout', durationMs: 300 },
    ])
    expect(abortKind(telemetrySignal?.reason)).toBe('shutdown')
    expect(exits).toEqual([1])
    const summary = lines.at(-1) as Line
    expect([summary.level, summary.msg]).toEqual(['error', 'shutdown complete'])
    expect(summary.fields).toMatchObject({ reason: 'SIGTERM', exitCode: 1, durationMs: 1400 })
  })

  it('logs one line when it starts and one summary line when it ends', async () => {
    const { life, clock, lines } = setup()
    const drained = life.drain('SIGTERM')
    await clock.advanceAsync(1000)
    const report = await drained
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ['info', 'draining'],
      ['info', 'shutdown complete'],
    ])
    expect(lines[0]?.fields).toEqual({
      reason: 'SIGTERM',
      inFlight: 0,
      drainDelayMs: 1000,
      boundMs: 3500,
    })
    expect(lines[1]?.fields).toEqual(report)
    expect(report).toEqual<DrainReport>({
      reason: 'SIGTERM',
      exitCode: 0,
      durationMs: 1000,
      boundMs: 3500,
      inFlight: 0,
      drained: 0,
      aborted: 0,
      connectionsDestroyed: 0,
      resources: [],
    })
  })

  it("flushes the logger before exit (pino's asynchronous stdout), at most 500 ms", async () => {
    const { clock, exits, lines } = setup({ drainDelayMs: 0 })
    const flushes: Array<() => void> = []
    const logger = { ...recordingLogger(lines), flush: (done: () => void) => flushes.push(done) }
    const flushing = lifecycle({ clock, logger, exit: (code) => exits.push(code), drainDelayMs: 0 })
    await flushing.drain()
    expect([flushes.length, exits]).toEqual([1, []])
    flushes[0]?.()
    expect(exits).toEqual([0])
    // A flush that never calls back does not keep the process from exiting.
    const stuck = lifecycle({
      clock,
      logger: { ...recordingLogger(lines), flush: () => {} },
      exit: (code) => exits.push(code + 10),
      drainDelayMs: 0,
    })
    await stuck.drain()
    await clock.advanceAsync(499)
    expect(exits).toEqual([0])
    await clock.advanceAsync(1)
    expect(exits).toEqual([0, 10])
  })

  it('calling drain() again returns the same drain, and exit is called once', async () => {
    const { life, clock, exits } = setup()
    const first = life.drain('a')
    expect(life.drain('b')).toBe(first)
    await clock.advanceAsync(1000)
    expect((await first).reason).toBe('a')
    expect(exits).toEqual([0])
  })

  it('the backstop exits 1 at the bound if a step overran (a blocked event loop)', async () => {
    const { life, clock, exits, lines } = setup({ drainDelayMs: 0 })
    life.onClose('blocking', () => {
      clock.advance(10_000) // the event loop was blocked this long
    })
    const report = await life.drain()
    expect(exits).toEqual([1])
    expect(lines.at(-1)).toMatchObject({
      level: 'error',
      msg: 'drain exceeded its bound: exiting now',
      fields: { forced: 'bound', exitCode: 1 },
    })
    // The drain itself still ran to its end, but nothing exits twice.
    expect(report.exitCode).toBe(0)
  })

  it('warns when the bound exceeds the grace period', () => {
    const { life, lines } = setup({ gracePeriodMs: 5000 })
    expect(lines).toEqual([])
    life.onClose('a', () => {}, { timeoutMs: 1500 })
    life.onClose('b', () => {}, { timeoutMs: 1500 })
    expect(lines).toEqual([
      {
        level: 'warn',
        msg: 'the drain bound exceeds the grace period: the platform may kill the process mid-drain',
        fields: { boundMs: 6500, gracePeriodMs: 5000 },
      },
    ])
  })
})

describe('handleSignals()', () => {
  it('drains on the first signal, forces exit 1 on the second, and can be removed', async () => {
    const { life, clock, exits, lines } = setup()
    const source = new EventEmitter()
    const dispose = life.handleSignals({ source })
    expect(source.listenerCount('SIGTERM')).toBe(1)
    expect(source.listenerCount('SIGINT')).toBe(1)
    source.emit('SIGTERM', 'SIGTERM')
    expect(life.state).toBe('draining')
    source.emit('SIGINT', 'SIGINT')
    expect(exits).toEqual([1])
    expect(lines.at(-1)).toMatchObject({
      msg: 'second signal (SIGINT): exiting now',
      fields: { reason: 'SIGTERM', forced: 'signal', exitCode: 1 },
    })
    dispose()
    expect(source.listenerCount('SIGTERM') + source.listenerCount('SIGINT')).toBe(0)
    await clock.advanceAsync(1000)
    expect(exits).toEqual([1])
  })

  it('a signal during a drain started by drain() does not force anything', async () => {
    const { life, clock, exits } = setup()
    const source = new EventEmitter()
    life.handleSignals({ source, signals: ['SIGTERM'] })
    const drained = life.drain('deploy')
    source.emit('SIGTERM', 'SIGTERM')
    await clock.advanceAsync(1000)
    expect((await drained).reason).toBe('deploy')
    expect(exits).toEqual([0])
  })
})
