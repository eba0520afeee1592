// Rate-limit worker: runs ONE contender (BENCH_CONTENDER) and answers `sample` requests
// with ns per request. A request is one decision, awaited, then a call that resolves at
// once, one after the other: the figure is the latency a limiter adds to every request
// (`none` is the same loop without a limiter). Quotas are far above what a sample uses,
// so every decision is an admission, as for a client within its limit.
import { Redis } from 'ioredis'
import { send } from '../lib/entry.ts'
import { Wiring } from '../lib/sturdy.ts'

type Op = () => Promise<unknown>
const name = process.env.BENCH_CONTENDER ?? 'none'
const wiring = new Wiring()
const call = (): Promise<number> => Promise.resolve(1)
let redis: Redis | undefined

function contender(): Op | undefined {
  if (name === 'none') return call
  const rateLimiter = wiring.factory('rate-limit', ['rateLimiter'])
  const slidingWindow = wiring.factory('rate-limit', ['slidingWindow'])
  const redisStore = wiring.factory('rate-limit', ['redisStore'])
  const ioredisClient = wiring.factory('rate-limit', ['ioredisClient'])
  if (rateLimiter === undefined || slidingWindow === undefined) return undefined
  const algorithm = slidingWindow({ limit: 1_000_000_000, windowMs: 60_000 })
  let store: unknown
  if (name === 'memory') {
    wiring.use('rateLimiter(slidingWindow) on memoryStore()')
  } else if (name === 'redis') {
    const url = process.env.BENCH_REDIS_URL
    if (redisStore === undefined || ioredisClient === undefined || url === undefined)
      return undefined
    redis = new Redis(url, { enableOfflineQueue: true, maxRetriesPerRequest: 1 })
    store = redisStore({ client: ioredisClient(redis), timeoutMs: 1000 })
    wiring.use('rateLimiter(slidingWindow) on redisStore(ioredis), loopback')
  } else {
    throw new Error(`unknown rate-limit contender ${name}`)
  }
  const limiter = rateLimiter({
    name: 'bench',
    algorithm,
    ...(store === undefined ? {} : { store }),
  })
  let degraded = 0
  return async () => {
    const decision = await limiter.consume('client-1')
    if (decision.degraded !== undefined) degraded++
    if (degraded > 0 && degraded % 1000 === 1) process.stderr.write('redis store degraded\n')
    return call()
  }
}

const op = contender()

/** Runs `op` for about `ms`, one request at a time, and returns ns per request. */
async function sample(ms: number): Promise<{ nsPerOp: number; cpuNsPerOp: number; ops: number }> {
  const run = op as Op
  let ops = 0
  const cpu0 = process.cpuUsage()
  const start = process.hrtime.bigint()
  const end = start + BigInt(Math.round(ms * 1e6))
  for (;;) {
    for (let i = 0; i < 64; i++) await run()
    ops += 64
    const now = process.hrtime.bigint()
    if (now >= end) {
      const cpu = process.cpuUsage(cpu0)
      return {
        nsPerOp: Number(now - start) / ops,
        cpuNsPerOp: ((cpu.user + cpu.system) * 1000) / ops,
        ops,
      }
    }
  }
}

process.on('message', (msg: { type: string; ms?: number }) => {
  if (msg.type !== 'sample') return
  sample(msg.ms ?? 100).then((r) => send({ type: 'sample', ...r }))
})
process.on('SIGTERM', () => redis?.disconnect())
send({ type: 'ready', available: op !== undefined, missing: wiring.missing, stack: wiring.stack })
