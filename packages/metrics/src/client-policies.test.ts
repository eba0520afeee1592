/**
 * `@sturdy/client`'s per-origin policies reach `policyMetrics()` through `client.policies`:
 * hedges (`sturdy_hedge*`) and throttling (`sturdy_limit_shed_total`) named after the
 * origin, as its retries are. Real servers on 127.0.0.1, a real registry, parsed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from '@sturdy/client'
import { seededRandom } from '@sturdy/core/testing'
import { Registry } from 'prom-client'
import { afterAll, describe, expect, it } from 'vitest'
import { policyMetrics } from './index.ts'
import { parseExposition } from './parse-exposition.test-util.ts'

let received = 0
const upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
  received++
  req.resume()
  if (req.url === '/refuse') {
    res.writeHead(503, { 'content-length': '0' })
    res.end()
    return
  }
  // '/slow-first': the first request hangs (until its connection closes), the rest answer.
  if (req.url === '/slow-first' && received === 1) return
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' })
  res.end('{}')
})
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
const origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
afterAll(() => {
  upstream.closeAllConnections()
  return new Promise((r) => upstream.close(r))
})

describe('client.policies observed by policyMetrics()', () => {
  it('counts hedges, hedge wins and throttled calls per origin', async () => {
    const registry = new Registry()
    const metrics = policyMetrics({ registry })
    const client = createClient({
      hedge: { delayMs: 20 },
      throttle: { k: 1 },
      breaker: false,
      random: seededRandom(5),
    })
    const stops = client.policies.map((p) => metrics.observe(p))

    await client.json(`${origin}/slow-first`)
    for (let i = 0; i < 30; i++)
      await client.fetch(`${origin}/refuse`, { retry: false }).catch(() => {})
    for (const stop of stops) stop()
    await client.close()

    const scrape = parseExposition(await registry.metrics())
    expect(scrape.value('sturdy_hedges_total', { name: origin, trigger: 'delay' })).toBe(1)
    expect(scrape.value('sturdy_hedge_wins_total', { name: origin })).toBe(1)
    const throttled = scrape.value('sturdy_limit_shed_total', {
      name: origin,
      reason: 'throttled',
      priority: 'normal',
    })
    expect(throttled).toBeGreaterThan(10)
  })
})
