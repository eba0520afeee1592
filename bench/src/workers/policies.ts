// Policy worker: runs ONE contender (BENCH_CONTENDER) on ONE path (BENCH_PATH: success |
// failure | open) and answers `sample` requests with ns/op (`run` requests run exactly n
// ops, for the instruction counter). One process per contender keeps the
// JIT of one library from shaping another's; the orchestrator interleaves samples.
import {
  ConsecutiveBreaker,
  ConstantBackoff,
  circuitBreaker as cbBreaker,
  retry as cbRetry,
  timeout as cbTimeout,
  handleAll,
  TimeoutStrategy,
  wrap,
} from 'cockatiel'
import CircuitBreaker from 'opossum'
import pRetry from 'p-retry'
import { send } from '../lib/entry.ts'
import { Wiring } from '../lib/sturdy.ts'

type Op = () => Promise<unknown>
const path =
  process.env.BENCH_PATH === 'failure' || process.env.BENCH_PATH === 'open'
    ? process.env.BENCH_PATH
    : 'success'
const name = process.env.BENCH_CONTENDER ?? 'bare'
const fail = path === 'failure'
/** The `open` path: every breaker is tripped first, so each op is an open circuit's reject. */
const open = path === 'open'
/** How long an open circuit stays open on the `open` path: longer than any run. */
const HOUR = 3_600_000

// The call under every policy: resolves at once, or rejects at once on the failure path.
const boom = (): Promise<never> => Promise.reject(new Error('boom'))
const ok = (): Promise<number> => Promise.resolve(1)
const call = fail || open ? boom : ok

const wiring = new Wiring()

/** Sturdy policies, as documented; retries without delay so the failure path measures work, not sleep. */
function sturdy(
  kind: 'timeout' | 'retry' | 'breaker',
): { execute: (fn: Op) => Promise<unknown> } | undefined {
  if (kind === 'timeout') {
    const timeout = wiring.factory('timeout', ['timeout'])
    wiring.use('@sturdy/timeout timeout(1000)')
    return timeout?.(1000)
  }
  if (kind === 'retry') {
    const retry = wiring.factory('retry', ['retry'])
    wiring.use('@sturdy/retry retry({ maxAttempts: 3, delay: 0 })')
    return retry?.({ maxAttempts: 3, delay: () => 0 })
  }
  const breaker = wiring.factory('breaker', ['circuitBreaker'])
  wiring.use(
    fail
      ? '@sturdy/breaker circuitBreaker({ readyToTrip: never })'
      : open
        ? '@sturdy/breaker circuitBreaker({ openMs: 1 h }), tripped'
        : '@sturdy/breaker circuitBreaker()',
  )
  // On the failure path the breaker must stay closed, or we would time its open-state fast
  // path; on the open path it is that fast path, held open for the whole run.
  return breaker?.(fail ? { readyToTrip: () => false } : open ? { openMs: HOUR } : {})
}

function sturdyComposed(): Op | undefined {
  const compose = wiring.factory('core', ['compose'])
  const parts = [sturdy('retry'), sturdy('breaker'), sturdy('timeout')]
  if (compose === undefined || parts.some((p) => p === undefined)) return undefined
  const policy = compose(...parts)
  return () => policy.execute(call)
}

/** A hedge whose first attempt settles at once: the success-path cost of hedging. */
function sturdyHedge(): Op | undefined {
  const hedge = wiring.factory('retry', ['hedge'])
  wiring.use('@sturdy/retry hedge({ delayMs: 1000 })')
  const policy = hedge?.({ delayMs: 1000 })
  return policy === undefined ? undefined : () => policy.execute(call)
}

/** A disabled chaos policy around the call: what leaving chaos wired in production costs. */
function sturdyChaosOff(): Op | undefined {
  const chaosFault = wiring.factory('chaos', ['chaosFault'])
  wiring.use('@sturdy/chaos chaosFault({ enabled: false })')
  const policy = chaosFault?.({ enabled: false })
  return policy === undefined ? undefined : () => policy.execute(call)
}

// The middleware contenders call the middleware directly with a stub exchange (a GET of
// /users/42) and `next` = the call: the per-request cost of the middleware alone, without
// a framework or a socket around it.
const exchange = { method: 'GET', path: '/users/42' }
type Mw = (ex: unknown, next: () => Promise<unknown>) => Promise<unknown>

function sturdyChaosMiddleware(scopedOut: boolean): Op | undefined {
  const chaosMiddleware = wiring.factory('chaos', ['chaosMiddleware'])
  const options = scopedOut
    ? { kind: 'fault', injectionRate: 1, routes: ['POST /payments'] }
    : { kind: 'fault', injectionRate: 1, enabled: false }
  wiring.use(`@sturdy/chaos chaosMiddleware(${JSON.stringify(options)})`)
  const mw = chaosMiddleware?.(options) as Mw | undefined
  return mw === undefined ? undefined : () => mw(exchange, call)
}

function cockatielRetry() {
  return cbRetry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(0) })
}
function cockatielBreaker() {
  return cbBreaker(handleAll, {
    halfOpenAfter: open ? HOUR : 10_000,
    breaker: new ConsecutiveBreaker(fail ? Number.MAX_SAFE_INTEGER : 5),
  })
}
function cockatielTimeout() {
  return cbTimeout(1000, TimeoutStrategy.Aggressive)
}

/** Trips a breaker by failing calls through it until it rejects; throws if it never opens. */
async function tripOpen(run: Op): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    try {
      await run()
    } catch (error) {
      if (isOpenRejection(error)) return
    }
  }
  throw new Error(`${name}: the breaker did not open after 1000 failures`)
}

/** Sturdy's and opossum's codes; cockatiel's error keeps `name: 'Error'` and carries a flag. */
function isOpenRejection(error: unknown): boolean {
  const e = error as { code?: string; name?: string; isBrokenCircuitError?: boolean } | undefined
  return (
    e?.code === 'BROKEN_CIRCUIT' ||
    e?.code === 'EOPENBREAKER' ||
    e?.name === 'BrokenCircuitError' ||
    e?.isBrokenCircuitError === true
  )
}

function contender(): Op | undefined {
  switch (name) {
    case 'bare':
      return call
    case 'sturdy-timeout':
    case 'sturdy-retry':
    case 'sturdy-breaker': {
      const p = sturdy(name.slice('sturdy-'.length) as 'timeout' | 'retry' | 'breaker')
      return p === undefined ? undefined : () => p.execute(call)
    }
    case 'sturdy-composed':
      return sturdyComposed()
    case 'sturdy-hedge':
      return sturdyHedge()
    case 'sturdy-chaos-off':
      return sturdyChaosOff()
    case 'bare-mw': {
      const empty: Mw = (_ex, next) => next()
      return () => empty(exchange, call)
    }
    case 'sturdy-chaos-mw-off':
      return sturdyChaosMiddleware(false)
    case 'sturdy-chaos-mw-scoped-out':
      return sturdyChaosMiddleware(true)
    case 'cockatiel-timeout': {
      const p = cockatielTimeout()
      return () => p.execute(call)
    }
    case 'cockatiel-retry': {
      const p = cockatielRetry()
      return () => p.execute(call)
    }
    case 'cockatiel-breaker': {
      const p = cockatielBreaker()
      return () => p.execute(call)
    }
    case 'cockatiel-wrap': {
      const p = wrap(cockatielRetry(), cockatielBreaker(), cockatielTimeout())
      return () => p.execute(call)
    }
    case 'opossum-fire': {
      // Its defaults on the success path; on the failure path errorThresholdPercentage 100
      // (the trip test is strict `>`) keeps the circuit closed; on the open path it is
      // tripped and held open.
      const breaker = new CircuitBreaker(
        call,
        fail ? { errorThresholdPercentage: 100 } : open ? { resetTimeout: HOUR } : {},
      )
      return () => breaker.fire()
    }
    case 'p-retry':
      return () => pRetry(call, { retries: 2, minTimeout: 0, factor: 1 })
    default:
      throw new Error(`unknown policy contender ${name}`)
  }
}

const op = contender()

/** Runs `op` for about `ms` and returns ns per op. Batches grow so timing reads stay rare. */
async function sample(ms: number): Promise<{ nsPerOp: number; cpuNsPerOp: number; ops: number }> {
  const run = op as Op
  let ops = 0
  let batch = 1
  const cpu0 = process.cpuUsage()
  const start = process.hrtime.bigint()
  const end = start + BigInt(Math.round(ms * 1e6))
  for (;;) {
    const b0 = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) {
      try {
        await run()
      } catch {
        // the failure path rejects by design
      }
    }
    ops += batch
    const now = process.hrtime.bigint()
    if (now >= end) {
      const cpu = process.cpuUsage(cpu0)
      return {
        nsPerOp: Number(now - start) / ops,
        cpuNsPerOp: ((cpu.user + cpu.system) * 1000) / ops,
        ops,
      }
    }
    if (now - b0 < 1_000_000n) batch *= 2
  }
}

/** Runs exactly `n` ops (the instruction counter brackets this). */
async function runOps(n: number): Promise<void> {
  const run = op as Op
  for (let i = 0; i < n; i++) {
    try {
      await run()
    } catch {
      // the failure and open paths reject by design
    }
  }
}

process.on('message', (msg: { type: string; ms?: number; n?: number }) => {
  if (msg.type === 'sample') sample(msg.ms ?? 100).then((r) => send({ type: 'sample', ...r }))
  else if (msg.type === 'run') runOps(msg.n ?? 1).then(() => send({ type: 'ran' }))
})
if (open && op !== undefined) await tripOpen(op)
send({ type: 'ready', available: op !== undefined, missing: wiring.missing, stack: wiring.stack })
