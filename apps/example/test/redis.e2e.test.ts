import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { RedisServer } from '../../../scripts/redis-server.ts'
import { RedisUnavailableError, startRedisServer } from '../../../scripts/redis-server.ts'
import type { AppProcess } from '../src/testing.ts'
import { copyDataDir, freePort, startApp } from '../src/testing.ts'

// Two gateways (real processes, SERVICE=gateway) sharing one real redis-server through
// REDIS_URL, as two replicas behind a Kubernetes Service: one rate-limit quota per client,
// one breaker per dependency. The other services are not started: the users service's
// address answers nothing, and the rate limit refuses before any downstream call.

let server: RedisServer | undefined
let skipReason = ''
let redis: Redis | undefined
const gateways: AppProcess[] = []
const urls: string[] = []
const dirs: string[] = []

beforeAll(async () => {
  try {
    server = await startRedisServer()
  } catch (error) {
    if (!(error instanceof RedisUnavailableError)) throw error
    skipReason = error.message
    return
  }
  redis = new Redis(server.url, { maxRetriesPerRequest: 1 })
  redis.on('error', () => {}) // the last test stops the server under it
  const nobody = await freePort()
  for (let i = 0; i < 2; i++) {
    const [port, metrics] = [await freePort(), await freePort()]
    const dataDir = copyDataDir(inject('pgliteTemplate'))
    dirs.push(dataDir)
    gateways.push(
      await startApp({
        SERVICE: 'gateway',
        GATEWAY_PORT: String(port),
        METRICS_PORT: String(metrics),
        PGLITE_DATA_DIR: dataDir,
        USERS_URL: `http://127.0.0.1:${nobody}`,
        PAYMENTS_URL: `http://127.0.0.1:${nobody}`,
        DELIVERY_URL: `http://127.0.0.1:${nobody}`,
        REDIS_URL: server.url,
        // A burst of 1, then one write per 10 s: the test runs well inside one refill.
        RATE_LIMIT_PER_MINUTE: '6',
        BREAKER_OPEN_MS: '60000',
      }),
    )
    urls.push(`http://127.0.0.1:${port}`)
  }
})

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.stop()))
  redis?.disconnect()
  await server?.stop()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A write the gateway refuses with 400 after the rate limit (no downstream call). */
const write = (url: string): Promise<Response> =>
  fetch(`${url}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: '', email: 'not-an-email' }),
  })

describe('gateways sharing state through REDIS_URL', () => {
  it('spend one rate-limit quota per client between them, kept in Redis', async (t) => {
    if (skipReason !== '') t.skip(`redis-server unavailable: ${skipReason}`)
    const [a, b] = urls as [string, string]
    // The burst of 1 goes through gateway A; B then refuses the same client, as does A.
    expect((await write(a)).status).toBe(400)
    const refused = await write(b)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/)
    expect((await write(a)).status).toBe(429)
    // Reads are not limited.
    expect((await fetch(`${b}/status.json`)).status).toBe(200)
    const keys = await redis!.keys('sturdy:rl:*')
    expect(keys).toEqual([expect.stringMatching(/^sturdy:rl:t:gateway-writes:/)])
  })

  it('open every gateway’s breaker when one trips it', async (t) => {
    if (skipReason !== '') t.skip(`redis-server unavailable: ${skipReason}`)
    const [a, b] = urls as [string, string]
    const usersBreaker = async (url: string): Promise<string | undefined> => {
      const status = (await (await fetch(`${url}/status.json`)).json()) as {
        dependencies: Array<{ name: string; breaker: string }>
      }
      return status.dependencies.find((d) => d.name === 'users')?.breaker
    }
    // B has not called the users service: its status page shows the shared state.
    expect(await usersBreaker(b)).toBe('closed')
    // The users service is unreachable: gateway A's gRPC breaker trips after more than 5
    // consecutive failed attempts (3 per read), then fails fast (503).
    for (let i = 0; i < 10 && (await usersBreaker(a)) !== 'open'; i++) {
      expect((await fetch(`${a}/users/1`)).status).toBeGreaterThanOrEqual(500)
    }
    expect(await usersBreaker(a)).toBe('open')
    // B never called the users service: its breaker opens from Redis (pub/sub, else
    // its sync within 1 s), and its status page says so.
    const until = Date.now() + 10_000
    while ((await usersBreaker(b)) !== 'open' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(await usersBreaker(b)).toBe('open')
    expect((await fetch(`${b}/users/1`)).status).toBe(503)
  })

  it('never fails a request while Redis is down', async (t) => {
    if (skipReason !== '') t.skip(`redis-server unavailable: ${skipReason}`)
    const [a] = urls as [string, string]
    redis?.disconnect()
    const stopped = server!
    server = undefined
    await stopped.stop()
    // Decided locally: this gateway's own bucket, which has not seen the client.
    const during = await write(a)
    expect(during.status).toBe(400)
    expect(gateways.every((g) => g.child.exitCode === null)).toBe(true)
    await gateways[0]!.waitFor((l) => l.msg === 'redis unavailable: shared state is local', 10_000)
  })
})
