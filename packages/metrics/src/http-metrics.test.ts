import type { Middleware, TraceContext } from '@sturdy/core'
import { UNMATCHED_ROUTE, VALUES } from '@sturdy/core'
import { manualClock, seededRandom } from '@sturdy/core/testing'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { Gauge, register as globalRegistry, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { DEFAULT_SKIP_PATHS, httpMetrics } from './http-metrics.ts'
import { isMetricConflictError, metricsHandler } from './index.ts'
import { parseExposition } from './parse-exposition.test-util.ts'

const DURATION = 'http_server_request_duration_seconds'
const ACTIVE = 'http_server_active_requests'
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0'

async function scrape(registry: Registry, accept?: string) {
  const { body } = await metricsHandler({ registry })(accept)
  return parseExposition(body)
}

/** An app whose handlers take `ms` of manual-clock time. */
function appWith(mw: Middleware, clock = manualClock()) {
  const app = new Hono()
  app.use(sturdy(mw))
  app.onError((_error, c) => c.text('failed', 500))
  app.get('/users/:id', (c) => {
    clock.advance(Number(c.req.query('ms') ?? 0))
    return c.json({ id: c.req.param('id') })
  })
  app.post('/users', (c) => c.json({}, 201))
  app.get('/boom', () => {
    throw new Error('boom')
  })
  app.get('/metrics', (c) => c.text('scrape'))
  app.get('/healthz', (c) => c.text('ok'))
  return { app, clock }
}

describe('httpMetrics', () => {
  it('records exact histogram series with route templates, normalized methods and status codes', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const { app } = appWith(httpMetrics({ registry, clock }), clock)

    await app.request('/users/1?ms=30')
    await app.request('/users/2?ms=300')
    await app.request('/users', { method: 'POST' })
    await app.request('/nope/at/all')
    await app.request('/users/1', { method: 'PROPFIND' })
    await app.request('/boom')

    const m = await scrape(registry)
    expect(m.types.get(DURATION)).toBe('histogram')
    expect(m.series(`${DURATION}_count`).sort()).toEqual(
      [
        `${DURATION}_count{method="GET",route="/boom",status_code="500"}`,
        `${DURATION}_count{method="GET",route="/users/:id",status_code="200"}`,
        `${DURATION}_count{method="GET",route="${UNMATCHED_ROUTE}",status_code="404"}`,
        `${DURATION}_count{method="POST",route="/users",status_code="201"}`,
        `${DURATION}_count{method="_OTHER",route="${UNMATCHED_ROUTE}",status_code="404"}`,
      ].sort(),
    )
    const users = { method: 'GET', route: '/users/:id', status_code: '200' }
    expect(m.value(`${DURATION}_count`, users)).toBe(2)
    expect(m.value(`${DURATION}_sum`, users)).toBeCloseTo(0.33, 10)
    // Cumulative buckets: 30 ms lands in le=0.05, 300 ms in le=0.5.
    const bucket = (le: string) => m.value(`${DURATION}_bucket`, { ...users, le })
    expect(bucket('0.025')).toBe(0)
    expect(bucket('0.05')).toBe(1)
    expect(bucket('0.25')).toBe(1)
    expect(bucket('0.5')).toBe(2)
    expect(bucket('+Inf')).toBe(2)
    // Exactly the semantic-convention buckets, in order.
    expect(
      m.samples
        .filter((s) => s.name === `${DURATION}_bucket` && s.labels.route === '/users/:id')
        .map((s) => s.labels.le),
    ).toEqual([
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.075',
      '0.1',
      '0.25',
      '0.5',
      '0.75',
      '1',
      '2.5',
      '5',
      '7.5',
      '10',
      '+Inf',
    ])
    expect(m.value(ACTIVE, { method: 'GET' })).toBe(0)
    expect(m.value(ACTIVE, { method: 'POST' })).toBe(0)
    expect(m.value(ACTIVE, { method: '_OTHER' })).toBe(0)
  })

  it('counts a request as active while it runs', async () => {
    const registry = new Registry()
    const app = new Hono()
    app.use(sturdy(httpMetrics({ registry })))
    let during: number | undefined
    app.get('/work', async (c) => {
      during = (await scrape(registry)).value(ACTIVE, { method: 'GET' })
      return c.text('done')
    })
    await app.request('/work')
    expect(during).toBe(1)
    expect((await scrape(registry)).value(ACTIVE, { method: 'GET' })).toBe(0)
  })

  it('adds up the requests in flight of two instances sharing a registry', async () => {
    const registry = new Registry()
    const a = httpMetrics({ registry })
    const b = httpMetrics({ registry })
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = new Hono().use(sturdy(a))
    slow.get('/slow', async (c) => {
      await held
      return c.text('late')
    })
    const other = new Hono().use(sturdy(b))
    let during: number | undefined
    other.get('/now', async (c) => {
      during = (await scrape(registry)).value(ACTIVE, { method: 'GET' })
      return c.text('now')
    })
    const pending = slow.request('/slow')
    await other.request('/now')
    expect(during).toBe(2)
    release()
    await pending
    expect((await scrape(registry)).value(ACTIVE, { method: 'GET' })).toBe(0)
  })

  it('counts into an in-flight gauge of the same shape that someone else registered', async () => {
    const registry = new Registry()
    const theirs = new Gauge({
      name: ACTIVE,
      help: 'theirs',
      labelNames: ['method'],
      registers: [registry],
    })
    const app = new Hono().use(sturdy(httpMetrics({ registry })))
    let during: number | undefined
    app.get('/work', async (c) => {
      during = (await theirs.get()).values.find((v) => v.labels.method === 'GET')?.value
      return c.text('done')
    })
    await app.request('/work')
    expect(during).toBe(1)
    expect((await scrape(registry)).value(ACTIVE, { method: 'GET' })).toBe(0)
  })

  it('adds no series for 10,000 distinct random URLs', async () => {
    const registry = new Registry()
    const { app } = appWith(httpMetrics({ registry }))
    await app.request('/warm-up')
    const before = (await scrape(registry)).samples.length
    const random = seededRandom(42)
    const seen = new Set<string>()
    for (let i = 0; i < 10_000; i++) {
      const path = `/${Math.floor(random() * 2 ** 52).toString(36)}/${i}`
      seen.add(path)
      await app.request(path)
    }
    expect(seen.size).toBe(10_000)
    const m = await scrape(registry)
    expect(m.samples.length).toBe(before)
    expect(
      m.value(`${DURATION}_count`, { method: 'GET', route: UNMATCHED_ROUTE, status_code: '404' }),
    ).toBe(10_001)
    expect(m.samples.some((s) => Object.values(s.labels).some((v) => seen.has(v)))).toBe(false)
    // 10,000 in-process requests: a generous bound for a loaded CI box, not a speed check.
  }, 60_000)

  it('skips the metrics and health routes by default, and what it is told to', async () => {
    expect(DEFAULT_SKIP_PATHS).toEqual(['/metrics', '/health', '/healthz', '/livez', '/readyz'])
    const registry = new Registry()
    const { app } = appWith(httpMetrics({ registry }))
    await app.request('/metrics')
    await app.request('/healthz')
    expect((await scrape(registry)).series(`${DURATION}_count`)).toEqual([])

    const custom = new Registry()
    const { app: other } = appWith(
      httpMetrics({ registry: custom, skip: (ex) => ex.path.startsWith('/users') }),
    )
    await other.request('/users/1')
    await other.request('/metrics')
    const m = await scrape(custom)
    expect(m.series(`${DURATION}_count`)).toEqual([
      `${DURATION}_count{method="GET",route="/metrics",status_code="200"}`,
    ])
  })

  it('shares one registry between two instances instead of crashing', async () => {
    const registry = new Registry()
    const a = appWith(httpMetrics({ registry })).app
    const b = appWith(httpMetrics({ registry })).app
    await a.request('/users/1')
    await b.request('/users/2')
    const m = await scrape(registry)
    expect(
      m.value(`${DURATION}_count`, { method: 'GET', route: '/users/:id', status_code: '200' }),
    ).toBe(2)
    expect(m.series(`${DURATION}_count`)).toHaveLength(1)
  })

  it('refuses a second instance whose labels or buckets differ, with a typed error', () => {
    const registry = new Registry()
    httpMetrics({ registry })
    const tenant = { value: () => 't', allow: ['t'] }
    expect(() => httpMetrics({ registry, labels: { tenant } })).toThrow(/labels/)
    try {
      httpMetrics({ registry, buckets: [1, 2] })
      expect.unreachable()
    } catch (error) {
      expect(isMetricConflictError(error)).toBe(true)
    }
    const taken = new Registry()
    new Histogram({ name: DURATION, help: 'mine', labelNames: ['x'], registers: [taken] })
    expect(() => httpMetrics({ registry: taken })).toThrow(/already registered/)
  })

  it('uses a private registry by default, never the global one', async () => {
    const a = httpMetrics()
    const b = httpMetrics()
    expect(a.registry).not.toBe(b.registry)
    expect(a.registry).not.toBe(globalRegistry)
    expect(globalRegistry.getSingleMetric(DURATION)).toBeUndefined()
    const { app } = appWith(a)
    await app.request('/users/1')
    expect((await scrape(a.registry as Registry)).series(`${DURATION}_count`)).toHaveLength(1)
  })

  it('records a throw that escapes the adapter as 500 and still releases the active gauge', async () => {
    const registry = new Registry()
    const thrower: Middleware = async () => {
      throw 'not an Error'
    }
    const app = new Hono()
    app.use(sturdy(httpMetrics({ registry }), thrower))
    app.get('/x', (c) => c.text('x'))
    await expect(app.request('/x')).rejects.toBe('not an Error')
    const m = await scrape(registry)
    expect(m.value(ACTIVE, { method: 'GET' })).toBe(0)
    expect(m.series(`${DURATION}_count`)).toEqual([
      `${DURATION}_count{method="GET",route="${UNMATCHED_ROUTE}",status_code="500"}`,
    ])
  })

  it('bounds extra labels with an allow-list and a distinct-value cap', async () => {
    const registry = new Registry()
    const mw = httpMetrics({
      registry,
      labels: {
        tier: { value: (ex) => ex.header('x-tier'), allow: ['gold', 'free'] },
        tenant: { value: (ex) => ex.header('x-tenant'), maxValues: 2 },
        broken: {
          value: () => {
            throw new Error('label bug')
          },
        },
      },
    })
    const { app } = appWith(mw)
    const send = (tier: string, tenant: string) =>
      app.request('/users/1', { headers: { 'x-tier': tier, 'x-tenant': tenant } })
    await send('gold', 'a')
    await send('hacker', 'b')
    await send('free', 'c')
    await send('free', 'd')
    await send('gold', 'a')
    const res = await app.request('/users/1')
    expect(res.status).toBe(200)
    const m = await scrape(registry)
    const count = (tier: string, tenant: string) =>
      m.value(`${DURATION}_count`, {
        method: 'GET',
        route: '/users/:id',
        status_code: '200',
        tier,
        tenant,
        broken: '',
      })
    expect(m.series(`${DURATION}_count`)).toHaveLength(4)
    expect(count('gold', 'a')).toBe(2)
    expect(count('__other__', 'b')).toBe(1)
    expect(count('free', '__other__')).toBe(2)
    expect(count('', '')).toBe(1)
    expect(() => httpMetrics({ labels: { route: { value: () => 'x', allow: [] } } })).toThrow(
      /reserved/,
    )
  })

  it('attaches trace_id exemplars from the request trace, shown only with OpenMetrics', async () => {
    const registry = new Registry()
    const clock = manualClock()
    const sampled: TraceContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    }
    const tracing: Middleware<{ trace: TraceContext }> = async (ex, next) => {
      const flags = ex.header('x-sampled') === '0' ? 0 : 1
      ex.set(VALUES.trace, { ...sampled, traceFlags: flags })
      await next()
    }
    const app = new Hono()
    app.use(sturdy(tracing, httpMetrics({ registry, clock })))
    app.get('/t', (c) => {
      clock.advance(40)
      return c.text('t')
    })
    app.get('/u', (c) => {
      clock.advance(40)
      return c.text('u')
    })
    await app.request('/t')
    await app.request('/u', { headers: { 'x-sampled': '0' } })

    const om = await scrape(registry, OPENMETRICS)
    const labels = { method: 'GET', route: '/t', status_code: '200', le: '0.05' }
    expect(om.sample(`${DURATION}_bucket`, labels)?.exemplar).toEqual({
      labels: { trace_id: sampled.traceId, span_id: sampled.spanId },
      value: 0.04,
    })
    const unsampled = om.samples.filter(
      (s) => s.name === `${DURATION}_bucket` && s.labels.route === '/u',
    )
    expect(unsampled.every((s) => s.exemplar === undefined)).toBe(true)
    const text = await scrape(registry)
    expect(text.samples.every((s) => s.exemplar === undefined)).toBe(true)

    const off = new Registry()
    const quiet = new Hono()
    quiet.use(sturdy(tracing, httpMetrics({ registry: off, exemplars: false })))
    quiet.get('/t', (c) => c.text('t'))
    await quiet.request('/t')
    expect((await scrape(off, OPENMETRICS)).samples.every((s) => s.exemplar === undefined)).toBe(
      true,
    )
  })

  it('opts in to the default process metrics, once per registry', async () => {
    const plain = new Registry()
    httpMetrics({ registry: plain })
    expect((await scrape(plain)).types.has('process_cpu_user_seconds_total')).toBe(false)

    const registry = new Registry()
    httpMetrics({ registry, collectDefaultMetrics: { eventLoopMonitoringPrecision: 100 } })
    expect(() => httpMetrics({ registry, collectDefaultMetrics: true })).not.toThrow()
    const m = await scrape(registry)
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter')
    expect(m.types.has('nodejs_heap_size_total_bytes')).toBe(true)
  })
})

describe('httpMetrics robustness', () => {
  it('never lets recording break the request', async () => {
    const registry = new Registry()
    const app = new Hono()
    app.use(
      sturdy(
        httpMetrics({
          registry,
          traceContext: () => {
            throw new Error('tracing bug')
          },
        }),
      ),
    )
    app.get('/ok', (c) => c.text('ok'))
    const res = await app.request('/ok')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok')
    const m = await scrape(registry)
    expect(m.value(ACTIVE, { method: 'GET' })).toBe(0)
    expect(m.value(`${DURATION}_count`, { method: 'GET', route: '/ok', status_code: '200' })).toBe(
      1,
    )
  })
})
