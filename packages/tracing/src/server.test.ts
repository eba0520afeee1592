import type { TextMapPropagator } from '@opentelemetry/api'
import { propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'
import type { Exchange, Middleware, TraceContext } from '@sturdy/core'
import { ClientClosedError, TimeoutError, UNMATCHED_ROUTE } from '@sturdy/core'
import { sturdy } from '@sturdy/hono'
import fc from 'fast-check'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { TRACER_NAME, tracing } from './index.ts'
import { privateProvider, registerOtel } from './otel.fixture.ts'

const otel = registerOtel()
afterAll(() => otel.unregister())
beforeEach(() => otel.exporter.reset())

const PARENT_TRACE = '0af7651916cd43dd8448eb211c80319c'
const PARENT_SPAN = 'b7ad6b7169203331'
const TRACEPARENT = `00-${PARENT_TRACE}-${PARENT_SPAN}-01`

function app(mw: Middleware<{ trace: TraceContext }> = tracing()) {
  const a = new Hono().use(sturdy(mw))
  a.get('/users/:id', (c) => c.json({ trace: c.var.trace ?? null }))
  return a
}

describe('tracing(): the SERVER span', () => {
  it('is named METHOD route and carries the stable HTTP attributes', async () => {
    const res = await app().request('/users/42?q=1', {
      headers: { host: 'api.test:8443', 'user-agent': 'curl/8' },
    })
    expect(res.status).toBe(200)
    const [span, ...rest] = otel.spans()
    expect(rest).toEqual([])
    expect(span?.name).toBe('GET /users/:id')
    expect(span?.kind).toBe(SpanKind.SERVER)
    expect(span?.instrumentationScope.name).toBe(TRACER_NAME)
    expect(span?.attributes).toEqual({
      'http.request.method': 'GET',
      'url.path': '/users/42',
      'url.scheme': 'http',
      'http.route': '/users/:id',
      'http.response.status_code': 200,
      'server.address': 'api.test',
      'server.port': 8443,
      'user_agent.original': 'curl/8',
    })
    expect(span?.status.code).toBe(SpanStatusCode.UNSET)
    expect(span?.parentSpanContext).toBeUndefined()
    expect(span?.events).toEqual([])
  })

  it('shares the span ids on the exchange (c.var.trace), without AsyncLocalStorage', async () => {
    const res = await app().request('/users/1')
    const body = (await res.json()) as { trace: TraceContext }
    const span = otel.spans()[0]
    expect(body.trace).toEqual({
      traceId: span?.spanContext().traceId,
      spanId: span?.spanContext().spanId,
      traceFlags: 1,
    })
  })

  it('names unmatched requests by method alone, with no http.route', async () => {
    const res = await app().request('/nope/123')
    expect(res.status).toBe(404)
    const span = otel.spans()[0]
    expect(span?.name).toBe('GET')
    expect(span?.attributes['http.route']).toBeUndefined()
    expect(span?.attributes['http.response.status_code']).toBe(404)
    expect(span?.status.code).toBe(SpanStatusCode.UNSET)
    expect(JSON.stringify(span?.attributes)).not.toContain(UNMATCHED_ROUTE)
  })

  it('reports unknown methods as _OTHER, keeps the original, and names the span HTTP', async () => {
    const a = new Hono().use(sturdy(tracing()))
    a.on('PROPFIND', '/dav/:file', (c) => c.text('ok'))
    await a.request('/dav/x', { method: 'PROPFIND' })
    const span = otel.spans()[0]
    expect(span?.name).toBe('HTTP /dav/:file')
    expect(span?.attributes['http.request.method']).toBe('_OTHER')
    expect(span?.attributes['http.request.method_original']).toBe('PROPFIND')
  })

  it('parses IPv6 hosts and leaves server.port out when the Host has none', async () => {
    await app().request('/users/1', { headers: { host: '[::1]:3000' } })
    await app().request('https://api.test/users/1', { headers: { host: 'api.test' } })
    const [v6, plain] = otel.spans()
    expect(v6?.attributes['server.address']).toBe('::1')
    expect(v6?.attributes['server.port']).toBe(3000)
    expect(plain?.attributes['server.address']).toBe('api.test')
    expect(plain?.attributes['server.port']).toBeUndefined()
    expect(plain?.attributes['url.scheme']).toBe('https')
  })
})

describe('tracing(): errors', () => {
  it('records a thrown error and sets ERROR with error.type = the 500 status', async () => {
    const a = new Hono().use(sturdy(tracing()))
    a.get('/boom/:id', () => {
      throw new RangeError('out of range')
    })
    a.onError((_error, c) => c.text('failed', 500))
    expect((await a.request('/boom/1')).status).toBe(500)
    const span = otel.spans()[0]
    expect(span?.name).toBe('GET /boom/:id')
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'out of range' })
    expect(span?.attributes['error.type']).toBe('500')
    expect(span?.attributes['http.response.status_code']).toBe(500)
    expect(span?.events.map((e) => [e.name, e.attributes?.['exception.type']])).toEqual([
      ['exception', 'RangeError'],
    ])
  })

  it('a 5xx response without an exception is an error too', async () => {
    const a = new Hono().use(sturdy(tracing()))
    a.get('/busy', (c) => c.text('busy', 503))
    await a.request('/busy')
    const span = otel.spans()[0]
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    expect(span?.attributes['error.type']).toBe('503')
    expect(span?.events).toEqual([])
  })

  it('4xx are the client’s fault: status stays UNSET, the exception is still recorded', async () => {
    const a = new Hono().use(sturdy(tracing()))
    a.get('/bad', () => {
      throw new HTTPException(400, { message: 'bad input' })
    })
    expect((await a.request('/bad')).status).toBe(400)
    const span = otel.spans()[0]
    expect(span?.status.code).toBe(SpanStatusCode.UNSET)
    expect(span?.attributes['error.type']).toBeUndefined()
    expect(span?.events.map((e) => e.name)).toEqual(['exception'])
  })

  it('an error that escapes the framework still ends the span, as an error', async () => {
    const a = new Hono().use(sturdy(tracing()))
    a.get('/odd', () => {
      // Hono only catches Error instances; anything else escapes app.fetch.
      throw 'not an Error'
    })
    await expect(a.request('/odd')).rejects.toBe('not an Error')
    const span = otel.spans()[0]
    expect(span?.name).toBe('GET /odd')
    expect(span?.status.code).toBe(SpanStatusCode.ERROR)
    expect(span?.attributes['error.type']).toBe('_OTHER')
    expect(span?.attributes['http.response.status_code']).toBeUndefined()
    expect(span?.events[0]?.attributes?.['exception.message']).toBe('not an Error')
  })
})

describe('tracing(): incoming context', () => {
  it('honours an incoming traceparent and tracestate', async () => {
    const res = await app().request('/users/1', {
      headers: { traceparent: TRACEPARENT, tracestate: 'vendor=abc' },
    })
    const body = (await res.json()) as { trace: TraceContext }
    const span = otel.spans()[0]
    expect(span?.spanContext().traceId).toBe(PARENT_TRACE)
    expect(span?.parentSpanContext?.spanId).toBe(PARENT_SPAN)
    expect(span?.parentSpanContext?.isRemote).toBe(true)
    expect(span?.spanContext().traceState?.serialize()).toBe('vendor=abc')
    expect(body.trace.traceId).toBe(PARENT_TRACE)
    expect(body.trace.spanId).not.toBe(PARENT_SPAN)
    // The tracestate travels on with the request's values, for the next hop.
    expect(body.trace.traceState).toBe('vendor=abc')
  })

  it('reports its instrumentation scope with the package version', async () => {
    await app().request('/users/1')
    const scope = otel.spans()[0]?.instrumentationScope
    expect(scope?.name).toBe(TRACER_NAME)
    expect(scope?.version).toMatch(/^\d+\.\d+\.\d+/)
  })

  it('honours the caller’s sampling decision (flags 00: not recorded, ids still shared)', async () => {
    const res = await app().request('/users/1', {
      headers: { traceparent: `00-${PARENT_TRACE}-${PARENT_SPAN}-00` },
    })
    const body = (await res.json()) as { trace: TraceContext }
    expect(otel.spans()).toEqual([])
    expect(body.trace.traceId).toBe(PARENT_TRACE)
    expect(body.trace.traceFlags).toBe(0)
  })

  it.each([
    ['garbage', 'not-a-traceparent'],
    ['zero trace id', `00-${'0'.repeat(32)}-${PARENT_SPAN}-01`],
    ['zero span id', `00-${PARENT_TRACE}-${'0'.repeat(16)}-01`],
    ['version ff', `ff-${PARENT_TRACE}-${PARENT_SPAN}-01`],
    ['short trace id', `00-${PARENT_TRACE.slice(2)}-${PARENT_SPAN}-01`],
    ['upper-case hex', `00-${PARENT_TRACE.toUpperCase()}-${PARENT_SPAN}-01`],
  ])('ignores a malformed traceparent (%s) and starts a new trace', async (_, header) => {
    const res = await app().request('/users/1', { headers: { traceparent: header } })
    expect(res.status).toBe(200)
    const span = otel.spans()[0]
    expect(span?.parentSpanContext).toBeUndefined()
    expect(span?.spanContext().traceId).not.toBe(PARENT_TRACE)
    expect(
      trace.isSpanContextValid(span?.spanContext() ?? { traceId: '', spanId: '', traceFlags: 0 }),
    ).toBe(true)
  })

  it('never throws, whatever the traceparent (property)', async () => {
    const a = app()
    const header = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.stringMatching(/^[0-9a-f]{2}$/),
          fc.stringMatching(/^[0-9a-f]{32}$/),
          fc.stringMatching(/^[0-9a-f]{16}$/),
          fc.stringMatching(/^[0-9a-f]{2}$/),
        )
        .map((parts) => parts.join('-')),
    )
    await fc.assert(
      fc.asyncProperty(header, async (value) => {
        otel.exporter.reset()
        const res = await a.request('/users/1', {
          headers: { traceparent: value.replace(/[\r\n\0]/g, '') },
        })
        expect(res.status).toBe(200)
        const [span] = otel.spans()
        const parent = span?.parentSpanContext
        // Either a child of a well-formed caller or a fresh root: never anything else.
        if (parent !== undefined) expect(value).toContain(parent.spanId)
      }),
      { numRuns: 150 },
    )
  })

  it('a propagator that throws does not fail the request', async () => {
    const broken: TextMapPropagator = {
      inject() {},
      extract() {
        throw new Error('broken propagator')
      },
      fields: () => [],
    }
    const res = await app(tracing({ propagator: broken })).request('/users/1', {
      headers: { traceparent: TRACEPARENT },
    })
    expect(res.status).toBe(200)
    expect(otel.spans()[0]?.parentSpanContext).toBeUndefined()
  })

  it('carries incoming baggage into the handler’s context', async () => {
    const a = new Hono().use(sturdy(tracing()))
    a.get('/b', (c) => c.text(propagation.getActiveBaggage()?.getEntry('tenant')?.value ?? 'none'))
    const res = await a.request('/b', { headers: { baggage: 'tenant=acme' } })
    expect(await res.text()).toBe('acme')
  })
})

describe('tracing(): context for handlers', () => {
  it('runs handlers inside the span’s context: their spans are its children', async () => {
    const a = new Hono().use(sturdy(tracing()))
    a.get('/work', async (c) => {
      await trace.getTracer('app').startActiveSpan('load', async (span) => {
        await new Promise((r) => setImmediate(r))
        span.end()
      })
      return c.text('ok')
    })
    await a.request('/work')
    const [child, server] = otel.spans()
    expect(child?.name).toBe('load')
    expect(server?.name).toBe('GET /work')
    expect(child?.parentSpanContext?.spanId).toBe(server?.spanContext().spanId)
    expect(child?.spanContext().traceId).toBe(server?.spanContext().traceId)
    // Nothing leaks into the caller's context once the request is over.
    expect(trace.getActiveSpan()).toBeUndefined()
  })

  it('a second tracing() mount enriches the first span instead of nesting a duplicate', async () => {
    const a = new Hono().use(sturdy(tracing()), sturdy(tracing()))
    a.get('/twice/:id', (c) => c.text('ok'))
    a.get('/fail', () => {
      throw new Error('once')
    })
    a.onError((_error, c) => c.text('failed', 500))
    await a.request('/twice/1')
    await a.request('/fail')
    expect(otel.spans().map((s) => s.name)).toEqual(['GET /twice/:id', 'GET /fail'])
    // Recorded once, by the mount that owns the span.
    expect(otel.spans()[1]?.events.map((e) => e.name)).toEqual(['exception'])
  })

  it("'always-new' nests its own span even under another SERVER span", async () => {
    const a = new Hono().use(sturdy(tracing()), sturdy(tracing({ mode: 'always-new' })))
    a.get('/twice/:id', (c) => c.text('ok'))
    await a.request('/twice/1')
    const [inner, outer] = otel.spans()
    expect([inner?.name, outer?.name]).toEqual(['GET /twice/:id', 'GET /twice/:id'])
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId)
  })

  it("'enrich-only' does nothing when no instrumentation started a span", async () => {
    const res = await app(tracing({ mode: 'enrich-only' })).request('/users/1')
    expect(await res.json()).toEqual({ trace: null })
    expect(otel.spans()).toEqual([])
  })
})

describe('tracing(): options and aborts', () => {
  it('uses an injected tracer provider instead of the global one', async () => {
    const own = privateProvider()
    await app(tracing({ tracerProvider: own.provider })).request('/users/1')
    expect(otel.spans()).toEqual([])
    expect(own.exporter.getFinishedSpans().map((s) => s.name)).toEqual(['GET /users/:id'])
    await own.provider.shutdown()
  })

  it('skip() leaves a request untraced', async () => {
    const res = await app(tracing({ skip: (ex) => ex.path.startsWith('/users') })).request(
      '/users/1',
    )
    expect(await res.json()).toEqual({ trace: null })
    expect(otel.spans()).toEqual([])
  })

  it('a skip() that throws rejects the returned promise (never a synchronous throw)', async () => {
    const mw = tracing({
      skip: () => {
        throw new Error('broken skip')
      },
    })
    let next = 0
    let result: Promise<void> | undefined
    expect(() => {
      result = mw({} as Exchange, async () => {
        next++
      })
    }).not.toThrow()
    await expect(result).rejects.toThrow('broken skip')
    expect(next).toBe(0)
  })

  it('rejects an unknown mode', () => {
    expect(() => tracing({ mode: 'augment' as never })).toThrow(TypeError)
  })

  it('records a deadline expiry and a client disconnect read from the exchange', async () => {
    const abortWith =
      (reason: unknown): Middleware =>
      async (ex, next) => {
        ex.abort(reason)
        await next()
      }
    for (const reason of [new TimeoutError('late', 50), new ClientClosedError()]) {
      const a = new Hono().use(sturdy(tracing(), abortWith(reason)))
      a.get('/slow', (c) => c.text('ok'))
      await a.request('/slow')
    }
    const [deadline, closed] = otel.spans()
    expect(deadline?.events.map((e) => e.name)).toEqual(['sturdy.deadline.exceeded'])
    expect(closed?.events.map((e) => [e.name, e.attributes])).toEqual([
      ['sturdy.request.aborted', { 'sturdy.abort.kind': 'client-disconnect' }],
    ])
  })
})
