import { Counter, Gauge, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { metricsHandler } from './metrics-handler.ts'
import { parseExposition } from './parse-exposition.test-util.ts'

const PROM = 'text/plain; version=0.0.4; charset=utf-8'
const OM = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

function registryWithData(): Registry {
  const registry = new Registry()
  const jobs = new Counter({
    name: 'jobs_total',
    help: 'Jobs.',
    labelNames: ['kind'],
    registers: [registry],
  })
  jobs.inc({ kind: 'a' }, 3)
  new Gauge({ name: 'queue_depth', help: 'Depth.', registers: [registry] }).set(7)
  return registry
}

describe('metricsHandler', () => {
  it('answers with the registry content type for each format', async () => {
    const scrape = metricsHandler({ registry: registryWithData() })
    const text = await scrape()
    expect(text.contentType).toBe(Registry.PROMETHEUS_CONTENT_TYPE)
    expect(text.contentType).toBe(PROM)
    expect(text.body.endsWith('# EOF\n')).toBe(false)
    const om = await scrape('application/openmetrics-text; version=1.0.0')
    expect(om.contentType).toBe(Registry.OPENMETRICS_CONTENT_TYPE)
    expect(om.contentType).toBe(OM)
    expect(om.body.endsWith('# EOF\n')).toBe(true)
    expect(parseExposition(om.body).value('jobs_total', { kind: 'a' })).toBe(3)
    expect(parseExposition(text.body).value('jobs_total', { kind: 'a' })).toBe(3)
  })

  it('keeps counter names intact in Prometheus text after an OpenMetrics scrape', async () => {
    // prom-client's OpenMetrics writer strips `_total` from metric.name in place; we
    // render through views so the shared registry never sees that.
    const registry = registryWithData()
    const scrape = metricsHandler({ registry })
    await scrape('application/openmetrics-text')
    const { body } = await scrape('text/plain')
    expect(parseExposition(body).value('jobs_total', { kind: 'a' })).toBe(3)
    expect(body).toContain('# TYPE jobs_total counter')
    expect(await registry.metrics()).toBe(body)
  })

  it("serves an OpenMetrics registry's own format by default and text on request", async () => {
    const registry = new Registry()
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never)
    new Counter({ name: 'hits_total', help: 'Hits.', registers: [registry] }).inc()
    const scrape = metricsHandler({ registry })
    const own = await scrape('*/*')
    expect(own.contentType).toBe(OM)
    expect(parseExposition(own.body).value('hits_total')).toBe(1)
    const text = await scrape('text/plain;version=0.0.4')
    expect(text.contentType).toBe(PROM)
    expect(parseExposition(text.body).value('hits_total')).toBe(1)
    const again = await scrape('text/plain;version=0.0.4')
    expect(again.body).toBe(text.body)
  })

  it('keeps default labels in both formats', async () => {
    const registry = registryWithData()
    registry.setDefaultLabels({ service: 'api' })
    const scrape = metricsHandler({ registry })
    for (const accept of ['text/plain', 'application/openmetrics-text']) {
      const m = parseExposition((await scrape(accept)).body)
      expect(m.value('queue_depth', { service: 'api' })).toBe(7)
    }
  })

  it('answers Prometheus text only when OpenMetrics is turned off', async () => {
    const scrape = metricsHandler({ registry: registryWithData(), openMetrics: false })
    expect((await scrape('application/openmetrics-text')).contentType).toBe(PROM)
  })
})
