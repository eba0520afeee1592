import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { Gauge, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { httpMetrics } from './http-metrics.ts'
import { metricsEndpoint } from './metrics-endpoint.ts'
import { parseExposition } from './parse-exposition.test-util.ts'

describe('metricsEndpoint on Hono', () => {
  it('serves the registry at /metrics with its content type, and passes everything else on', async () => {
    const http = httpMetrics()
    const app = new Hono()
    app.use(sturdy(metricsEndpoint({ registry: http.registry }), http))
    app.get('/hello', (c) => c.text('hi'))
    app.post('/metrics', (c) => c.text('app route'))

    expect(await (await app.request('/hello')).text()).toBe('hi')
    const res = await app.request('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(res.headers.get('vary')).toBe('accept')
    const m = parseExposition(await res.text())
    expect(
      m.value('http_server_request_duration_seconds_count', {
        method: 'GET',
        route: '/hello',
        status_code: '200',
      }),
    ).toBe(1)
    // The scrape itself is skipped by default.
    expect(m.series('http_server_request_duration_seconds_count')).toHaveLength(1)

    const om = await app.request('/metrics', {
      headers: { accept: 'application/openmetrics-text; version=1.0.0' },
    })
    expect(om.headers.get('content-type')).toBe(
      'application/openmetrics-text; version=1.0.0; charset=utf-8',
    )
    expect((await om.text()).endsWith('# EOF\n')).toBe(true)

    const head = await app.request('/metrics', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    expect(await (await app.request('/metrics', { method: 'POST' })).text()).toBe('app route')
  })

  it('answers a custom path, and a bare 500 when a collect callback fails', async () => {
    const registry = new Registry()
    new Gauge({
      name: 'flaky',
      help: 'Fails to collect.',
      registers: [registry],
      collect() {
        throw new Error('secret detail')
      },
    })
    const app = new Hono()
    app.use(sturdy(metricsEndpoint({ registry, path: '/internal/metrics' })))
    const res = await app.request('/internal/metrics')
    expect(res.status).toBe(500)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.text()).not.toContain('secret')
    expect((await app.request('/metrics')).status).toBe(404)
  })
})
