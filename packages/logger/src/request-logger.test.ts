import type { Middleware } from '@sturdy/core'
import {
  isSturdyError,
  isTimeoutError,
  respondProblem,
  SturdyError,
  TimeoutError,
  ValidationError,
} from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { problemErrorHandler, sturdy } from '@sturdy/hono'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
import { requestId as honoRequestId } from 'hono/request-id'
import type { Logger } from 'pino'
import { describe, expect, it } from 'vitest'
import type { RequestLoggerOptions } from './index.ts'
import { requestLogger } from './index.ts'
import { capture, parseStrict, sequentialIds } from './testing.ts'

type Opts = Omit<RequestLoggerOptions, 'logger'>

/** A Hono app with the request logger mounted, writing to a captured pino logger. */
function setup(opts: Opts = {}, inner: Middleware[] = [], level = 'info') {
  const out = capture({ level })
  const clock = manualClock()
  const app = new Hono().use(
    sturdy(
      requestLogger({ logger: out.logger, generateRequestId: sequentialIds(), clock, ...opts }),
      ...inner,
    ),
  )
  app.onError((err, c) =>
    isSturdyError(err) ? c.json({ title: err.message }, err.status as 400) : c.text('oops', 500),
  )
  return { app, clock, ...out }
}

/** The access line(s): the ones with a `status`. */
function access(lines: Record<string, unknown>[]): Record<string, unknown>[] {
  return lines.filter((l) => 'status' in l)
}

describe('requestLogger: fields', () => {
  it('binds req_id once, shares c.var.log / c.var.requestId and writes one access line', async () => {
    const { app, clock, lines, raw } = setup()
    let seenId: string | undefined
    app.get('/users/:id', (c) => {
      seenId = c.var.requestId satisfies string
      c.var.log.info({ user: c.req.param('id') }, 'loading user')
      clock.advance(12.5)
      return c.json({ id: c.req.param('id') })
    })
    const res = await app.request('/users/42?secret=1')
    expect(res.status).toBe(200)
    expect(res.headers.get('x-request-id')).toBe('id-1')
    expect(seenId).toBe('id-1')
    expect(raw).toHaveLength(2)
    const [handler, line] = lines()
    expect(handler).toMatchObject({ level: 30, req_id: 'id-1', user: '42', msg: 'loading user' })
    expect(line).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: process.pid,
      hostname: expect.any(String),
      req_id: 'id-1',
      method: 'GET',
      route: '/users/:id',
      path: '/users/42',
      status: 200,
      duration_ms: 12.5,
      msg: 'request completed',
    })
  })

  it('types c.var.log as a pino Logger', async () => {
    const { app } = setup()
    app.get('/', (c) => {
      const log: Logger = c.var.log
      return c.text(typeof log.child)
    })
    expect(await (await app.request('/')).text()).toBe('function')
  })

  it('logs the response size when the response declares it', async () => {
    const { app, lines } = setup()
    app.get('/sized', (c) => c.body('hello', 200, { 'content-length': '5' }))
    app.get('/unsized', (c) => c.text('hello'))
    await app.request('/sized')
    await app.request('/unsized')
    const [sized, unsized] = access(lines())
    expect(sized?.res_size).toBe(5)
    expect(unsized).not.toHaveProperty('res_size')
  })

  it('logs unmatched paths with the shared unmatched route value', async () => {
    const { app, lines } = setup()
    app.get('/known', (c) => c.text('ok'))
    await app.request('/nope/123')
    expect(access(lines())[0]).toMatchObject({
      level: 40,
      route: '__unmatched__',
      path: '/nope/123',
      status: 404,
    })
  })

  it('never logs request headers or bodies unless headers are allow-listed', async () => {
    const { app, raw, lines } = setup()
    app.post('/login', async (c) => c.json(await c.req.json()))
    await app.request('/login', {
      method: 'POST',
      headers: { authorization: 'Bearer s3cret-token', 'content-type': 'application/json' },
      body: JSON.stringify({ password: 'hunter2' }),
    })
    expect(access(lines())[0]).not.toHaveProperty('headers')
    expect(raw.join('\n')).not.toMatch(/s3cret-token|hunter2|application\/json/)
  })

  it('skips the access line when skip() says so, but still provides the logger', async () => {
    const { app, lines } = setup({ skip: (ex) => ex.path === '/healthz' })
    app.get('/healthz', (c) => {
      c.var.log.debug('not written at info')
      return c.text('ok')
    })
    app.get('/work', (c) => c.text('ok'))
    await app.request('/healthz')
    await app.request('/work')
    expect(lines().map((l) => l.path)).toEqual(['/work'])
  })
})

describe('requestLogger: option callbacks', () => {
  it('a throwing callback is ignored; it never breaks the request', async () => {
    const boom = (): never => {
      throw new Error('bad option')
    }
    const { app, lines } = setup({ bindings: boom, fields: boom, skip: boom, traceContext: boom })
    app.get('/', (c) => c.text('ok'))
    const res = await app.request('/')
    expect(res.status).toBe(200)
    expect(lines()).toEqual([
      expect.objectContaining({ req_id: 'id-1', status: 200, msg: 'request completed' }),
    ])
  })
})

describe('requestLogger: each key exactly once', () => {
  it('detects duplicates in raw JSON (the check can fail)', () => {
    expect(() => parseStrict('{"a":1,"b":{"c":2},"a":3}')).toThrow(/duplicate key "a"/)
    expect(() => parseStrict('{"a":{"c":2,"c":3}}')).toThrow(/duplicate key "c"/)
    expect(parseStrict('{"a":[1,{"b":"x\\"y"}],"c":null}')).toEqual({
      a: [1, { b: 'x"y' }],
      c: null,
    })
    // pino itself writes both keys when a child re-binds one: the bug we avoid.
    const { logger, raw } = capture()
    logger.child({ req_id: 'a' }).child({ req_id: 'b' }).info('x')
    expect(() => parseStrict(raw[0] as string)).toThrow(/duplicate key "req_id"/)
  })

  it('drops extra bindings and fields that would repeat a key', async () => {
    const out = capture({ base: { service: 'orders' } })
    const trace = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }
    const app = new Hono().use(
      sturdy(
        async (ex, next) => {
          ex.set('trace', trace)
          await next()
        },
        requestLogger({
          logger: out.logger,
          generateRequestId: sequentialIds(),
          bindings: (ex) => ({
            req_id: 'forged',
            trace_id: 'forged',
            service: 'forged',
            status: 1,
            tenant: ex.header('x-tenant'),
          }),
          fields: () => ({ tenant: 'again', route: 'forged', msg: 'forged', region: 'eu' }),
          requestHeaders: ['user-agent'],
        }),
      ),
    )
    app.onError((_err, c) => c.text('oops', 500))
    app.get('/a/:b', (c) => {
      c.var.log.info({ step: 1 }, 'inside')
      throw new Error('boom')
    })
    await app.request('/a/1', { headers: { 'x-tenant': 't1', 'user-agent': 'ua' } })
    expect(out.raw).toHaveLength(2)
    const [inside, line] = out.lines() // parseStrict: throws on any repeated key
    expect(inside).toMatchObject({ service: 'orders', req_id: 'id-1', tenant: 't1', step: 1 })
    expect(line).toMatchObject({
      service: 'orders',
      req_id: 'id-1',
      trace_id: 'a'.repeat(32),
      tenant: 't1',
      region: 'eu',
      route: '/a/:b',
      status: 500,
      msg: 'request failed',
      headers: { 'user-agent': 'ua' },
    })
    for (const text of out.raw) {
      expect(text.match(/"req_id":/g)).toHaveLength(1)
      expect(text.match(/"service":/g)).toHaveLength(1)
    }
  })
})

describe('requestLogger: redaction', () => {
  it('redacts authorization, cookie and set-cookie in allow-listed headers and handler logs', async () => {
    const { app, raw, lines } = setup({
      requestHeaders: ['Authorization', 'cookie', 'user-agent'],
      redact: ['password', 'body.card'],
    })
    app.get('/me', (c) => {
      c.var.log.info({ headers: { authorization: 'Bearer tok-1' } }, 'a')
      c.var.log.info({ req: { headers: { cookie: 'sid=tok-2' } } }, 'b')
      c.var.log.info({ res: { headers: { 'set-cookie': 'sid=tok-3' } } }, 'c')
      c.var.log.info({ authorization: 'tok-4', password: 'tok-5', body: { card: 'tok-6' } }, 'd')
      return c.text('ok')
    })
    await app.request('/me', {
      headers: { authorization: 'Bearer tok-7', cookie: 'sid=tok-8', 'user-agent': 'curl/8' },
    })
    expect(raw.join('\n')).not.toMatch(/tok-\d/)
    const [a, b, c, d, line] = lines()
    expect(a?.headers).toEqual({ authorization: '[Redacted]' })
    expect(b?.req).toEqual({ headers: { cookie: '[Redacted]' } })
    expect(c?.res).toEqual({ headers: { 'set-cookie': '[Redacted]' } })
    expect(d).toMatchObject({
      authorization: '[Redacted]',
      password: '[Redacted]',
      body: { card: '[Redacted]' },
    })
    expect(line?.headers).toEqual({
      authorization: '[Redacted]',
      cookie: '[Redacted]',
      'user-agent': 'curl/8',
    })
  })

  it('with redact: false leaves the root logger redaction in charge', async () => {
    const out = capture({ redact: ['secret'] })
    const app = new Hono().use(sturdy(requestLogger({ logger: out.logger, redact: false })))
    app.get('/', (c) => {
      c.var.log.info({ secret: 'x1', authorization: 'x2' }, 'm')
      return c.text('ok')
    })
    await app.request('/')
    expect(out.lines()[0]).toMatchObject({ secret: '[Redacted]', authorization: 'x2' })
  })
})

describe('requestLogger: level by status', () => {
  it('info for 2xx/3xx, warn for 4xx, error for 5xx; the stack only for 5xx', async () => {
    const { app, lines } = setup()
    app.get('/ok', (c) => c.text('ok'))
    app.get('/moved', (c) => c.redirect('/ok'))
    app.get('/missing', (c) => c.text('no', 404))
    app.get('/invalid', () => {
      throw new ValidationError('bad id')
    })
    app.get('/crash', () => {
      throw new TypeError('undefined is not a function')
    })
    app.get('/unavailable', (c) => c.text('later', 503))
    for (const p of ['/ok', '/moved', '/missing', '/invalid', '/crash', '/unavailable']) {
      await app.request(p)
    }
    const got = access(lines()).map((l) => [l.path, l.status, l.level, l.msg])
    expect(got).toEqual([
      ['/ok', 200, 30, 'request completed'],
      ['/moved', 302, 30, 'request completed'],
      ['/missing', 404, 40, 'request completed'],
      ['/invalid', 400, 40, 'request completed'],
      ['/crash', 500, 50, 'request failed'],
      ['/unavailable', 503, 50, 'request failed'],
    ])
    const [, , , invalid, crash, unavailable] = access(lines())
    expect(invalid?.err).toEqual({ type: 'ValidationError', message: 'bad id', code: 'VALIDATION' })
    expect(crash?.err).toMatchObject({ type: 'TypeError', message: 'undefined is not a function' })
    expect(crash?.err).toHaveProperty('stack')
    expect(String((crash?.err as { stack?: string } | undefined)?.stack)).toMatch(
      /^TypeError: undefined is not/,
    )
    expect(unavailable).not.toHaveProperty('err')
  })

  it("a policy's deliberate 503 or 504 (open circuit, shed, deadline) is logged without a stack", async () => {
    const { app, lines } = setup()
    app.get('/open', () => {
      throw new SturdyError('BROKEN_CIRCUIT', 'Circuit "payments" is open', 503)
    })
    app.get('/late', () => {
      throw new TimeoutError('Timed out after 50 ms', 50)
    })
    app.get('/bug', () => {
      throw new SturdyError('INTERNAL', 'a Sturdy error that is a bug', 500)
    })
    for (const p of ['/open', '/late', '/bug']) await app.request(p)
    const [open, late, bug] = access(lines())
    expect(open?.err).toEqual({
      type: 'SturdyError',
      message: 'Circuit "payments" is open',
      code: 'BROKEN_CIRCUIT',
    })
    expect(late?.err).toMatchObject({ type: 'TimeoutError', code: 'TIMEOUT' })
    expect(late?.err).not.toHaveProperty('stack')
    expect([open?.status, late?.status]).toEqual([503, 504])
    expect(bug?.err).toHaveProperty('stack')
  })

  it('errors handlers log themselves still go through the root logger err serializer', async () => {
    const out = capture({ serializers: { err: (e: Error) => ({ custom: e.message }) } })
    const app = new Hono().use(sturdy(requestLogger({ logger: out.logger })))
    app.onError((_err, c) => c.text('oops', 500))
    app.get('/', (c) => {
      c.var.log.warn({ err: new RangeError('mine') }, 'handled')
      throw new Error('unhandled')
    })
    await app.request('/')
    const [handled, line] = out.lines()
    expect(handled?.err).toEqual({ custom: 'mine' })
    expect(line?.err).toMatchObject({ type: 'Error', message: 'unhandled' })
  })

  it('pino default serializer: a handler error keeps pino shape, the access line its own', async () => {
    const { app, lines } = setup()
    app.get('/', (c) => {
      c.var.log.error(new RangeError('mine'))
      return c.text('x', 500)
    })
    await app.request('/')
    const [handled] = lines()
    expect(handled?.err).toMatchObject({ type: 'RangeError', message: 'mine' })
    expect(String((handled?.err as { stack?: string } | undefined)?.stack)).toMatch(
      /^RangeError: mine/,
    )
  })

  it('levels are configurable, and silent drops the line', async () => {
    const { app, lines } = setup(
      { levels: { success: 'debug', clientError: 'silent', serverError: 'fatal' } },
      [],
      'debug',
    )
    app.get('/ok', (c) => c.text('ok'))
    app.get('/no', (c) => c.text('no', 404))
    app.get('/bad', (c) => c.text('bad', 500))
    for (const p of ['/ok', '/no', '/bad']) await app.request(p)
    expect(lines().map((l) => [l.path, l.level])).toEqual([
      ['/ok', 20],
      ['/bad', 60],
    ])
  })

  it('logs a value thrown past the framework as a 500 and rethrows it', async () => {
    const { app, lines } = setup()
    app.get('/odd', () => {
      throw 'not an error' // Hono lets non-Error throws escape next()
    })
    await expect(app.request('/odd')).rejects.toBe('not an error')
    expect(access(lines())[0]).toMatchObject({
      level: 50,
      status: 500,
      err: { type: 'string', message: 'not an error' },
    })
  })
})

describe('requestLogger: aborts', () => {
  it('logs a client disconnect as an abort, not as a success or a 500', async () => {
    const { app, lines } = setup()
    const client = new AbortController()
    app.get('/slow', () => {
      client.abort()
      throw new Error('downstream call aborted')
    })
    await app.request('/slow', { signal: client.signal })
    expect(access(lines())).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'request aborted',
        status: 499,
        abort: 'client-disconnect',
      }),
    ])
    expect(access(lines())[0]).not.toHaveProperty('err')
  })

  it('without detectClientAbort a disconnect is logged as a normal response', async () => {
    const { app, lines } = setup({ detectClientAbort: false })
    const client = new AbortController()
    app.get('/slow', (c) => {
      client.abort()
      return c.text('ok')
    })
    await app.request('/slow', { signal: client.signal })
    expect(access(lines())[0]).toMatchObject({ level: 30, status: 200 })
    expect(access(lines())[0]).not.toHaveProperty('abort')
  })

  it('a deadline abort keeps its 504 and says why', async () => {
    const deadline: Middleware = async (ex) => {
      const reason = new TimeoutError('Deadline exceeded', 100)
      ex.abort(reason)
      respondProblem(ex, reason)
    }
    const { app, lines } = setup({}, [deadline])
    app.get('/x', (c) => c.text('never'))
    const res = await app.request('/x')
    expect(res.status).toBe(504)
    expect(access(lines())[0]).toMatchObject({
      level: 50,
      status: 504,
      abort: 'deadline',
      msg: 'request failed',
    })
  })
})

describe('requestLogger: with the real deadline() inside it (the recommended order)', () => {
  /** Logger outside deadline(), both on one manual clock, as `sturdy(requestLogger, deadline)`. */
  function withDeadline(budgetMs: number) {
    const out = capture()
    const clock = manualClock()
    const app = new Hono().use(
      sturdy(
        requestLogger({ logger: out.logger, generateRequestId: sequentialIds(), clock }),
        deadline({ budgetMs, clock }),
      ),
    )
    app.onError(problemErrorHandler()) // the handler's late rejection is not printed
    return { app, clock, ...out }
  }

  it('the 504 line says abort: deadline, although the signal aborts only after it is written', async () => {
    const { app, clock, lines } = withDeadline(100)
    let aborted: unknown
    app.get('/slow', async (c) => {
      const signal = c.var.signal
      await new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted = signal.reason
          reject(signal.reason)
        }),
      )
      return c.text('never')
    })
    const res = app.request('/slow')
    await new Promise((r) => setImmediate(r))
    await clock.advanceAsync(100)
    expect((await res).status).toBe(504)
    expect(access(lines())).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'request failed',
        status: 504,
        abort: 'deadline',
        route: '/slow',
      }),
    ])
    // The line was written before the abort landed: the fix does not rely on it.
    await clock.advanceAsync(10)
    expect(isTimeoutError(aborted)).toBe(true)
    expect(access(lines())).toHaveLength(1)
  })

  it('the 408 line (the body was still arriving at the deadline) says abort: deadline too, at warn', async () => {
    const { app, clock, lines } = withDeadline(100)
    app.post('/upload', async (c) => {
      const signal = c.var.signal
      await new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      )
      return c.text('never')
    })
    // @hono/node-server's binding: the request body has not all arrived.
    const res = app.request('/upload', { method: 'POST' }, { incoming: { complete: false } })
    await new Promise((r) => setImmediate(r))
    await clock.advanceAsync(100)
    expect((await res).status).toBe(408)
    expect(access(lines())).toEqual([
      expect.objectContaining({
        level: 40,
        msg: 'request completed',
        status: 408,
        abort: 'deadline',
        route: '/upload',
      }),
    ])
  })

  it('an incoming deadline already spent (grpc-timeout: 0m) is logged as the deadline too', async () => {
    const { app, lines } = withDeadline(5000)
    app.get('/x', (c) => c.text('never'))
    const res = await app.request('/x', { headers: { 'grpc-timeout': '0m' } })
    expect(res.status).toBe(504)
    expect(access(lines())[0]).toMatchObject({ status: 504, abort: 'deadline' })
  })

  it('a 504 the handler returns before the deadline is not called a deadline', async () => {
    const { app, lines } = withDeadline(5000)
    app.get('/gateway', (c) => c.text('upstream timed out', 504))
    const res = await app.request('/gateway')
    expect(res.status).toBe(504)
    const line = access(lines())[0]
    expect(line).toMatchObject({ status: 504, msg: 'request failed' })
    expect(line).not.toHaveProperty('abort')
  })

  it('a request that finishes in time has no abort key', async () => {
    const { app, lines } = withDeadline(5000)
    app.get('/fast', (c) => c.text('ok'))
    await app.request('/fast')
    expect(access(lines())[0]).toMatchObject({ status: 200, msg: 'request completed' })
    expect(access(lines())[0]).not.toHaveProperty('abort')
  })
})

describe('requestLogger: request ids', () => {
  it('reuses a safe incoming X-Request-Id and echoes it', async () => {
    const { app, lines } = setup()
    app.get('/', (c) => c.text(c.var.requestId))
    const res = await app.request('/', { headers: { 'x-request-id': 'edge-01:9f1c+A/b=' } })
    expect(res.headers.get('x-request-id')).toBe('edge-01:9f1c+A/b=')
    expect(await res.text()).toBe('edge-01:9f1c+A/b=')
    expect(lines()[0]?.req_id).toBe('edge-01:9f1c+A/b=')
  })

  it.each([
    ['a log-forging value', 'x"},"level":60,"a":{"'],
    ['a backslash', 'a\\b'],
    ['spaces', 'a b'],
    ['markup', '<script>'],
    ['too long', 'a'.repeat(129)],
    ['empty', ''],
  ])('rejects %s and generates an id instead', async (_name, incoming) => {
    const { app, lines } = setup()
    app.get('/', (c) => c.text('ok'))
    const res = await app.request('/', { headers: { 'x-request-id': incoming } })
    expect(res.headers.get('x-request-id')).toBe('id-1')
    expect(lines()[0]?.req_id).toBe('id-1')
  })

  it('honours maxRequestIdLength, trustRequestId: false and a custom header', async () => {
    const long = setup({ maxRequestIdLength: 200 })
    long.app.get('/', (c) => c.text('ok'))
    await long.app.request('/', { headers: { 'x-request-id': 'a'.repeat(200) } })
    expect(long.lines()[0]?.req_id).toBe('a'.repeat(200))

    const distrust = setup({ trustRequestId: false })
    distrust.app.get('/', (c) => c.text('ok'))
    const res = await distrust.app.request('/', { headers: { 'x-request-id': 'abc' } })
    expect(res.headers.get('x-request-id')).toBe('id-1')

    const custom = setup({ requestIdHeader: 'X-Correlation-Id' })
    custom.app.get('/', (c) => c.text('ok'))
    const res2 = await custom.app.request('/', {
      headers: { 'x-correlation-id': 'corr-7', 'x-request-id': 'ignored' },
    })
    expect(res2.headers.get('x-correlation-id')).toBe('corr-7')
    expect(res2.headers.get('x-request-id')).toBeNull()
    expect(custom.lines()[0]?.req_id).toBe('corr-7')
  })

  it('with requestIdHeader: false neither reads nor echoes a header', async () => {
    const { app, lines } = setup({ requestIdHeader: false })
    app.get('/', (c) => c.text('ok'))
    const res = await app.request('/', { headers: { 'x-request-id': 'abc' } })
    expect(res.headers.get('x-request-id')).toBeNull()
    expect(lines()[0]?.req_id).toBe('id-1')
  })

  it('sets the header before the handler runs, so it is on error responses too', async () => {
    const { app } = setup()
    app.get('/', () => {
      throw new Error('x')
    })
    const res = await app.request('/')
    expect(res.status).toBe(500)
    expect(res.headers.get('x-request-id')).toBe('id-1')
  })

  it('reuses the id hono/request-id already chose', async () => {
    const out = capture()
    const app = new Hono()
      .use(honoRequestId({ generator: () => 'from-hono' }))
      .use(sturdy(requestLogger({ logger: out.logger, generateRequestId: sequentialIds() })))
    app.get('/', (c) => c.text(c.var.requestId))
    const res = await app.request('/')
    expect(await res.text()).toBe('from-hono')
    expect(res.headers.get('x-request-id')).toBe('from-hono')
    expect(out.lines()[0]?.req_id).toBe('from-hono')
  })

  it('generates UUIDs by default, unique per request', async () => {
    const out = capture()
    const app = new Hono().use(sturdy(requestLogger({ logger: out.logger })))
    app.get('/', (c) => c.text('ok'))
    await app.request('/')
    await app.request('/')
    const ids = out.lines().map((l) => l.req_id as string)
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/)
    expect(new Set(ids).size).toBe(2)
  })
})
