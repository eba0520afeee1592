// Metrics worker: ONE exposition contender (BENCH_CONTENDER) with BENCH_SERIES label sets on
// the request-duration histogram; answers `sample` requests with ms per scrape.
import type { Exchange } from '@sturdy/core'
import { Histogram, Registry } from 'prom-client'
import { send } from '../lib/entry.ts'
import { Wiring } from '../lib/sturdy.ts'

const name = process.env.BENCH_CONTENDER ?? 'prom-client'
const series = Number(process.env.BENCH_SERIES ?? 100)
const wiring = new Wiring()
const SEMCONV = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/** A stub request as an adapter would build it, for driving httpMetrics() without a server. */
function stubExchange(route: string): Exchange {
  const values = new Map<string, unknown>()
  return {
    method: 'GET',
    path: route,
    scheme: 'http',
    host: '127.0.0.1',
    header: () => undefined,
    setHeader: () => {},
    route: () => route,
    status: 200,
    error: undefined,
    responseSize: 60,
    signal: new AbortController().signal,
    aborted: false,
    abort: () => {},
    deadline: undefined,
    get: <T>(key: string) => values.get(key) as T | undefined,
    set: (key: string, value: unknown) => values.set(key, value),
    respond: () => {},
    responded: false,
  }
}

async function setup(): Promise<(() => Promise<string>) | undefined> {
  const registry = new Registry()
  if (name === 'prom-client') {
    // What @hono/prometheus, express-prom-bundle and fastify-metrics expose: a labelled
    // histogram in a prom-client registry, scraped with registry.metrics().
    const h = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'request duration',
      labelNames: ['method', 'route', 'status_code'],
      buckets: SEMCONV,
      registers: [registry],
    })
    for (let i = 0; i < series; i++)
      h.observe({ method: 'GET', route: `/route/${i}`, status_code: '200' }, 0.01)
    return () => registry.metrics()
  }
  if (name === 'sturdy-metrics') {
    const httpMetrics = wiring.factory('metrics', ['httpMetrics'])
    const metricsHandler = wiring.factory('metrics', ['metricsHandler'])
    if (httpMetrics === undefined || metricsHandler === undefined) return undefined
    wiring.use('@sturdy/metrics httpMetrics() + metricsHandler()')
    const mw = httpMetrics({ registry })
    for (let i = 0; i < series; i++) await mw(stubExchange(`/route/${i}`), async () => {})
    const scrape = metricsHandler({ registry })
    return async () => (await scrape()).body as string
  }
  throw new Error(`unknown metrics contender ${name}`)
}

const scrape = await setup()
const bytes = scrape === undefined ? 0 : (await scrape()).length

async function sample(ms: number): Promise<object> {
  const run = scrape as () => Promise<string>
  let n = 0
  const start = performance.now()
  do {
    await run()
    n++
  } while (performance.now() - start < ms)
  return { type: 'sample', msPerScrape: (performance.now() - start) / n }
}

process.on('message', (msg: { type: string; ms?: number }) => {
  if (msg.type === 'sample') sample(msg.ms ?? 100).then(send)
})
send({ type: 'ready', available: scrape !== undefined, missing: wiring.missing, bytes })
