// Soak load: exactly BENCH_REQUESTS requests to BENCH_URL, BENCH_CONNECTIONS in flight,
// through an undici Pool; reports the count of each status.
import { Pool } from 'undici'
import { send } from '../lib/entry.ts'

const url = new URL(process.env.BENCH_URL ?? 'http://127.0.0.1:3000/slow')
const total = Number(process.env.BENCH_REQUESTS ?? 1000)
const concurrency = Number(process.env.BENCH_CONNECTIONS ?? 50)
const pool = new Pool(url.origin, { connections: concurrency })
const statuses: Record<string, number> = {}
let issued = 0
const start = performance.now()

async function loop(): Promise<void> {
  while (issued < total) {
    issued++
    try {
      const res = await pool.request({ path: url.pathname, method: 'GET' })
      await res.body.dump()
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1
    } catch {
      statuses.error = (statuses.error ?? 0) + 1
    }
  }
}

await Promise.all(Array.from({ length: concurrency }, loop))
await pool.close()
send({ type: 'done', statuses, sec: (performance.now() - start) / 1000 })
