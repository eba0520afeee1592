import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from '@sturdy/client'
import { Registry } from 'prom-client'
import { afterAll, describe, expect, it } from 'vitest'
import { clientMetrics } from './index.ts'
import { parseExposition } from './parse-exposition.test-util.ts'

const upstream = createServer((req, res) => {
  const status = req.url === '/fail' ? 503 : 200
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': '2' })
  res.end('{}')
})
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
const port = (upstream.address() as AddressInfo).port
afterAll(() => new Promise((r) => upstream.close(r)))

describe('clientMetrics()', () => {
  it('records each attempt with bounded method, server, status and error labels', async () => {
    const registry = new Registry()
    const metrics = clientMetrics({ registry })
    expect(metrics.registry).toBe(registry)
    const client = createClient({
      interceptors: [metrics],
      retry: { maxAttempts: 2, baseDelayMs: 1 },
      breaker: false,
    })
    await client.json(`http://127.0.0.1:${port}/ok`)
    await client.json(`http://127.0.0.1:${port}/ok`)
    expect((await client.fetch(`http://127.0.0.1:${port}/fail`)).status).toBe(503) // 2 attempts
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const deadPort = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    await client.json(`http://127.0.0.1:${deadPort}/`, { retry: false }).catch(() => {})
    await client.close()

    const scrape = parseExposition(await registry.metrics())
    const count = (labels: Record<string, string>) =>
      scrape.value('http_client_request_duration_seconds_count', labels)
    const at = { method: 'GET', server_address: '127.0.0.1' }
    expect(count({ ...at, server_port: String(port), status_code: '200', error_type: '' })).toBe(2)
    expect(count({ ...at, server_port: String(port), status_code: '503', error_type: '503' })).toBe(
      2,
    )
    expect(
      count({ ...at, server_port: String(deadPort), status_code: '', error_type: 'ECONNREFUSED' }),
    ).toBe(1)
    expect(scrape.series('http_client_request_duration_seconds_count')).toHaveLength(3)
  })

  it('bounds the servers it keeps apart', async () => {
    const registry = new Registry()
    const metrics = clientMetrics({ registry, maxServers: 1 })
    const request = {
      method: 'GET',
      scheme: 'http',
      port: 80,
      target: '/',
      headers: {},
      attempt: 1,
      resend: undefined,
      values: undefined,
    }
    const ok = {
      status: 200,
      header: () => undefined,
      onDone: (fn: (e: unknown) => void) => fn(undefined),
    }
    for (const host of ['a.internal', 'b.internal', 'c.internal']) {
      await metrics({ ...request, host }, async () => ok)
    }
    const scrape = parseExposition(await registry.metrics())
    expect(scrape.series('http_client_request_duration_seconds_count').sort()).toEqual([
      'http_client_request_duration_seconds_count{error_type="",method="GET",server_address="__other__",server_port="",status_code="200"}',
      'http_client_request_duration_seconds_count{error_type="",method="GET",server_address="a.internal",server_port="80",status_code="200"}',
    ])
  })
})
