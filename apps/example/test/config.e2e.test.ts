import { rmSync } from 'node:fs'
import { describe, expect, inject, it } from 'vitest'
import { copyDataDir, freePort, startApp } from '../src/testing.ts'

describe('configuration at start (the built app)', () => {
  it('bad configuration: one JSON line naming the variable, exit code 1', async () => {
    const app = await startApp(
      { SERVICE: 'payments', PAYMENTS_PORT: 'not-a-port', METRICS_PORT: '0' },
      { waitStarted: false },
    )
    expect(await app.exited).toBe(1)
    expect(app.other).toEqual([])
    expect(app.lines).toHaveLength(1)
    expect(app.lines[0]).toMatchObject({
      level: 60,
      msg: expect.stringMatching(
        /^Invalid configuration:\n {2}PAYMENTS_PORT: .* \(got "not-a-port"\)$/,
      ),
      problems: [expect.stringMatching(/^PAYMENTS_PORT/)],
    })
  })

  it('one service alone, on ephemeral ports, JSON logs only; SIGTERM exits 0', async () => {
    const app = await startApp({ SERVICE: 'payments', PAYMENTS_PORT: '0', METRICS_PORT: '0' })
    const listening = app.lines.find((l) => l.msg === 'listening')
    expect(listening).toMatchObject({
      service: 'payments',
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    })
    const url = String(listening?.url)
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    expect((await fetch(`${url}/healthz`)).status).toBe(200)
    // No database in a payments process.
    expect(app.lines.some((l) => l.msg === 'database ready')).toBe(false)
    expect(await app.stop()).toBe(0)
    expect(app.other).toEqual([])
  })

  it('the gateway alone: writes beyond the rate limit get 429 with RateLimit headers, per client behind a proxy', async () => {
    const dir = copyDataDir(inject('pgliteTemplate'))
    const app = await startApp({
      SERVICE: 'gateway',
      GATEWAY_PORT: '0',
      METRICS_PORT: '0',
      PGLITE_DATA_DIR: dir,
      // Nothing listens there: the gateway's own answers are what this test reads.
      USERS_URL: `http://127.0.0.1:${await freePort()}`,
      RATE_LIMIT_PER_MINUTE: '6',
      // One proxy in front (an ingress): the client is the last X-Forwarded-For entry.
      TRUST_PROXY: '1',
    })
    try {
      const url = String(app.lines.find((l) => l.msg === 'listening')?.url)
      const post = (client = '203.0.113.5') =>
        fetch(`${url}/users`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
          body: JSON.stringify({ name: 'Ada', email: 'ada@example.com' }),
        })
      const first = await post()
      // users is down: a problem (UNAVAILABLE → 503), not a crash
      expect(first.status).toBe(503)
      expect(first.headers.get('content-type')).toBe('application/problem+json')
      expect(first.headers.get('ratelimit-policy')).toBe('"gateway-writes";q=6;w=60')
      const second = await post()
      expect(second.status).toBe(429)
      expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(await second.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' })
      // Another client behind the same proxy has a quota of its own.
      expect((await post('198.51.100.7')).status).toBe(503)
      // Reads are not limited.
      expect((await fetch(`${url}/users/1`)).status).toBe(503)
    } finally {
      await app.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
