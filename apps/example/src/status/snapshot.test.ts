import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { quantile, routeStatus, sample, sampleWindow } from './snapshot.ts'

describe('quantile (histogram_quantile)', () => {
  it('interpolates inside the bucket where the rank falls', () => {
    // 100 observations: 50 ≤ 0.1 s, 40 in (0.1, 0.5], 10 in (0.5, 1].
    const buckets: Array<[number, number]> = [
      [0.1, 50],
      [0.5, 90],
      [1, 100],
      [Number.POSITIVE_INFINITY, 100],
    ]
    expect(quantile(0.5, buckets)).toBeCloseTo(0.1)
    expect(quantile(0.9, buckets)).toBeCloseTo(0.5)
    expect(quantile(0.99, buckets)).toBeCloseTo(0.95)
  })

  it('gives the highest finite bound for the +Inf bucket, NaN without data', () => {
    expect(
      quantile(0.99, [
        [1, 0],
        [Number.POSITIVE_INFINITY, 5],
      ]),
    ).toBe(1)
    expect(
      Number.isNaN(
        quantile(0.99, [
          [1, 0],
          [Number.POSITIVE_INFINITY, 0],
        ]),
      ),
    ).toBe(true)
  })
})

describe('route status from the registry', () => {
  it('rate, error rate and p99 over the window between two samples', async () => {
    const registry = new Registry()
    const h = new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'x',
      labelNames: ['method', 'route', 'status_code', 'service'],
      buckets: [0.01, 0.1, 1],
      registers: [registry],
    })
    const labels = { method: 'GET', route: '/users/:id', service: 'gateway' }
    for (let i = 0; i < 10; i++) h.observe({ ...labels, status_code: '200' }, 0.005)
    const window = sampleWindow(10_000, 0)
    const first = await sample(registry, new Map(), 0)
    expect(window.push(first)).toBeUndefined()
    for (let i = 0; i < 18; i++) h.observe({ ...labels, status_code: '200' }, 0.05)
    for (let i = 0; i < 2; i++) h.observe({ ...labels, status_code: '503' }, 0.5)
    const second = await sample(registry, new Map(), 2000)
    const before = window.push(second)
    expect(before).toBe(first)
    const [row] = routeStatus(second, before, 2)
    expect(row).toMatchObject({ service: 'gateway', method: 'GET', route: '/users/:id', total: 30 })
    expect(row!.rps).toBeCloseTo(10) // 20 requests in 2 s
    expect(row!.errorRate).toBeCloseTo(0.1)
    expect(row!.p99Ms).toBeGreaterThan(100)
    expect(row!.p99Ms).toBeLessThanOrEqual(1000)
  })

  it('drops samples older than the window', () => {
    const w = sampleWindow(1000, 0)
    const s = (at: number) => ({ at, routes: new Map(), counters: new Map() })
    w.push(s(0))
    w.push(s(500))
    expect(w.push(s(1600))?.at).toBe(1600 - 1100)
  })
})
