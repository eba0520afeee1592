// Client worker: ONE HTTP client (BENCH_CONTENDER) against the local upstream (BENCH_URL),
// `concurrency` requests in flight, each response body read and parsed. Answers `sample`
// requests with req/s and latency percentiles.
import { Agent, get } from 'node:http'
import { Pool } from 'undici'
import { send } from '../lib/entry.ts'
import { Wiring } from '../lib/sturdy.ts'

type Request = () => Promise<unknown>
const name = process.env.BENCH_CONTENDER ?? 'fetch'
const url = new URL(process.env.BENCH_URL ?? 'http://127.0.0.1:3000/users/42')
const concurrency = Number(process.env.BENCH_CONNECTIONS ?? 50)
const wiring = new Wiring()

function contender(): Request | undefined {
  switch (name) {
    case 'fetch':
      return async () => (await fetch(url)).json()
    case 'undici-pool': {
      const pool = new Pool(url.origin, { connections: concurrency })
      const path = url.pathname
      return async () => (await pool.request({ path, method: 'GET' })).body.json()
    }
    case 'http-agent': {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
      return () =>
        new Promise((resolve, reject) => {
          get(url, { agent }, (res) => {
            let data = ''
            res.setEncoding('utf8')
            res.on('data', (chunk: string) => {
              data += chunk
            })
            res.on('end', () => resolve(JSON.parse(data)))
            res.on('error', reject)
          }).on('error', reject)
        })
    }
    case 'sturdy-client': {
      // Every policy on, as the client ships them: per-attempt timeout, retries (with
      // the origin's retry budget), the origin's circuit breaker, deadline header.
      const create = wiring.factory('client', ['createClient'])
      if (create === undefined) return undefined
      const client = create({ baseUrl: url.origin, connections: concurrency })
      wiring.use('@sturdy/client createClient() json(): attempt timeout, retry + budget, breaker')
      const path = url.pathname
      return () => client.json(path)
    }
    case 'sturdy-client-fetch': {
      // The fetch-compatible call: a web Response with a streamed body, every policy on.
      const create = wiring.factory('client', ['createClient'])
      if (create === undefined) return undefined
      const client = create({ baseUrl: url.origin, connections: concurrency })
      wiring.use('@sturdy/client createClient() fetch() + res.json()')
      const path = url.pathname
      return async () => (await client.fetch(path)).json()
    }
    default:
      throw new Error(`unknown client contender ${name}`)
  }
}

const request = contender()

async function sample(sec: number): Promise<object> {
  const run = request as Request
  const latencies: number[] = []
  let errors = 0
  const cpu = process.cpuUsage()
  const start = performance.now()
  const end = start + sec * 1000
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now()
      try {
        await run()
        latencies.push(performance.now() - t)
      } catch {
        errors++
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  const elapsed = (performance.now() - start) / 1000
  // The client's own CPU per call: far steadier than req/s when other processes share
  // the machine (it still grows a little when a busy sibling core thrashes the caches).
  const used = process.cpuUsage(cpu)
  latencies.sort((a, b) => a - b)
  const pct = (p: number): number | undefined =>
    latencies.length === 0
      ? undefined
      : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]
  return {
    type: 'sample',
    reqPerSec: latencies.length / elapsed,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    cpuUsPerReq: latencies.length === 0 ? undefined : (used.user + used.system) / latencies.length,
    errors,
  }
}

process.on('message', (msg: { type: string; sec?: number }) => {
  if (msg.type === 'sample') sample(msg.sec ?? 1).then(send)
})
send({
  type: 'ready',
  available: request !== undefined,
  missing: wiring.missing,
  stack: wiring.stack,
})
