import { describe, expect, it } from 'vitest'
import { startApp } from '../src/testing.ts'

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
})
