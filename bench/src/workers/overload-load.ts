// Open-loop load for the overload part. Requests are sent at fixed arrival times
// (BENCH_RATE per second for BENCH_SECONDS), whether or not earlier ones were answered —
// unlike wrk or autocannon, which wait for an answer before sending again (closed loop)
// and so can never offer more than the server takes. Latency runs from each request's
// scheduled time (no coordinated omission). Each request carries its deadline
// (`x-request-timeout-ms`) and is abandoned (socket destroyed) when it passes, as a real
// caller would. BENCH_MODE=closed instead keeps BENCH_CONNECTIONS requests in flight
// back to back, to measure capacity. A light stream of /healthz probes runs alongside.
import { Agent, request } from 'node:http'
import { send } from '../lib/entry.ts'

const base = new URL(process.env.BENCH_URL ?? 'http://127.0.0.1:3000')
const mode = process.env.BENCH_MODE ?? 'open'
const rate = Number(process.env.BENCH_RATE ?? 100)
const seconds = Number(process.env.BENCH_SECONDS ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32)
const timeoutMs = Number(process.env.BENCH_TIMEOUT_MS ?? 1000)
const healthPerSec = Number(process.env.BENCH_HEALTH_RATE ?? 20)

const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY })

interface Second {
  ok: number
  okLatencies: number[]
  shed: number
  shedLatencies: number[]
  timeouts: number
  other: number
}
const perSecond: Second[] = Array.from({ length: Math.ceil(seconds) + 2 }, () => ({
  ok: 0,
  okLatencies: [],
  shed: 0,
  shedLatencies: [],
  timeouts: 0,
  other: 0,
}))
const health = { ok: 0, notOk: 0 }
let maxSendLagMs = 0
let inFlight = 0

function fire(
  path: string,
  scheduled: number,
  t0: number,
  done: (status: number, ms: number) => void,
): void {
  inFlight++
  let finished = false
  const finish = (status: number): void => {
    if (finished) return
    finished = true
    inFlight--
    clearTimeout(timer)
    done(status, performance.now() - scheduled)
  }
  const req = request(
    {
      host: base.hostname,
      port: base.port,
      path,
      agent,
      headers: { 'x-request-timeout-ms': String(timeoutMs) },
    },
    (res) => {
      res.resume()
      res.on('end', () => finish(res.statusCode ?? 0))
      res.on('error', () => finish(-1))
    },
  )
  req.on('error', () => finish(-1))
  const timer = setTimeout(
    () => {
      finish(0) // the caller gave up: whatever comes later is read by nobody
      req.destroy()
    },
    Math.max(1, timeoutMs - (performance.now() - scheduled)),
  )
  req.end()
  void t0
}

function record(status: number, ms: number, scheduled: number, t0: number): void {
  const s = perSecond[Math.min(perSecond.length - 1, Math.floor((scheduled - t0) / 1000))] as Second
  if (status === 200 && ms <= timeoutMs) {
    s.ok++
    s.okLatencies.push(ms)
  } else if (status === 503) {
    s.shed++
    s.shedLatencies.push(ms)
  } else if (status === 0 || (status === 200 && ms > timeoutMs)) {
    s.timeouts++
  } else {
    s.other++
  }
}

async function openLoop(): Promise<void> {
  const t0 = performance.now()
  const total = Math.round(rate * seconds)
  const healthTotal = Math.round(healthPerSec * seconds)
  let sent = 0
  let healthSent = 0
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      while (sent < total) {
        const scheduled = t0 + (sent * 1000) / rate
        if (scheduled > now) break
        maxSendLagMs = Math.max(maxSendLagMs, now - scheduled)
        sent++
        fire('/work', scheduled, t0, (status, ms) => record(status, ms, scheduled, t0))
      }
      while (healthSent < healthTotal) {
        const scheduled = t0 + (healthSent * 1000) / healthPerSec
        if (scheduled > now) break
        healthSent++
        fire('/healthz', scheduled, t0, (status) => {
          if (status === 200) health.ok++
          else health.notOk++
        })
      }
      if (sent >= total && healthSent >= healthTotal) {
        clearInterval(interval)
        resolve()
      }
    }
    const interval = setInterval(tick, 1)
  })
  // Let the last requests finish or time out.
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 20))
}

async function closedLoop(): Promise<{ reqPerSec: number }> {
  const t0 = performance.now()
  const end = t0 + seconds * 1000
  let done = 0
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const scheduled = performance.now()
      await new Promise<void>((resolve) =>
        fire('/work', scheduled, t0, (status, ms) => {
          if (status === 200) done++
          record(status, ms, scheduled, t0)
          resolve()
        }),
      )
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
  return { reqPerSec: done / ((performance.now() - t0) / 1000) }
}

const closed = mode === 'closed' ? await closedLoop() : undefined
if (mode !== 'closed') await openLoop()
agent.destroy()
send({
  type: 'done',
  mode,
  rate,
  seconds,
  timeoutMs,
  reqPerSec: closed?.reqPerSec,
  maxSendLagMs,
  health,
  perSecond,
})
