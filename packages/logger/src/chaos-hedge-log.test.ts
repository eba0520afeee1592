import { chaosFault, chaosMiddleware } from '@sturdy/chaos'
import { sturdy } from '@sturdy/hono'
import { hedge } from '@sturdy/retry'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { logPolicyEvents, requestLogger } from './index.ts'
import { capture } from './testing.ts'

describe('chaos and hedging in logs (real pino, real @sturdy/chaos and hedge())', () => {
  it('the access line of an injected request carries the chaos marks', async () => {
    const { logger, lines } = capture()
    const outage = chaosMiddleware({
      name: 'users-down',
      kind: 'fault',
      injectionRate: 1,
      routes: ['GET /users/:id'],
    })
    const app = new Hono().use(sturdy(requestLogger({ logger }), outage))
    app.get('/users/:id', (c) => c.text('never'))
    app.get('/health', (c) => c.text('ok'))
    await app.request('/users/1')
    await app.request('/health')
    const [injected, clean] = lines()
    expect(injected).toMatchObject({
      status: 503,
      msg: 'request failed',
      chaos: [{ name: 'users-down', kind: 'fault' }],
    })
    expect(clean).not.toHaveProperty('chaos')
  })

  it('logs injections at debug, run-time changes at warn, both marked chaos: true', async () => {
    const { logger, lines } = capture({ level: 'debug' })
    const fault = chaosFault({ name: 'db-down', injectionRate: 1 })
    const stop = logPolicyEvents(fault, logger)
    await fault.execute(async () => 1).catch(() => undefined)
    fault.update({ enabled: false })
    stop()
    fault.update({ enabled: true })
    expect(lines().map(({ time, pid, hostname, ...rest }) => rest)).toEqual([
      {
        level: 20,
        msg: 'chaos injected a fault',
        policy: 'db-down',
        kind: 'chaos',
        chaos: true,
        chaos_kind: 'fault',
        scope: 'policy',
        latency_ms: 0,
      },
      {
        level: 40,
        msg: 'chaos settings changed',
        policy: 'db-down',
        kind: 'chaos',
        chaos: true,
        enabled: false,
        injection_rate: 1,
      },
    ])
  })

  it('logs hedges and wins at debug, a refused hedge at info', async () => {
    const { logger, lines } = capture({ level: 'debug' })
    const { retryBudget } = await import('@sturdy/retry')
    const policy = hedge({
      name: 'users-api',
      delayMs: 0,
      budget: retryBudget({ ratio: 0, minRetriesPerSecond: 0.1 }),
    })
    logPolicyEvents(policy, logger)
    await policy.execute(async ({ attempt }) => {
      if (attempt === 1) throw new Error('down')
      return attempt
    })
    await policy
      .execute(async ({ attempt }) => {
        if (attempt === 1) throw new Error('down')
        return attempt
      })
      .catch(() => undefined)
    expect(lines().map((l) => [l.level, l.msg, l.kind, l.attempt])).toEqual([
      [20, 'hedging', 'hedge', 2],
      [20, 'hedge won', 'hedge', 2],
      [30, 'retry budget exhausted', 'hedge', 2],
    ])
  })
})
