import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createClient } from '@sturdy/client'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { afterAll, describe, expect, it } from 'vitest'
import { CLIENT_MESSAGES, clientLogger, requestLogger } from './index.ts'
import { capture } from './testing.ts'

let failures = 0
const upstream = createServer((_req, res) => {
  if (failures > 0) {
    failures--
    res.writeHead(503, { 'content-length': '0' })
    res.end()
    return
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' })
  res.end('{}')
})
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
afterAll(() => new Promise((r) => upstream.close(r)))

describe('clientLogger()', () => {
  it('writes a failed attempt and its retry to the request’s logger (same req_id)', async () => {
    const out = capture()
    const client = createClient({
      interceptors: [clientLogger()],
      retry: { baseDelayMs: 1, jitter: 'none' },
    })
    const app = new Hono().use(sturdy(requestLogger({ logger: out.logger })))
    app.get('/orders', async (c) =>
      c.json(await client.json(`${base}/stock?token=x`, { context: c })),
    )
    failures = 1
    const res = await app.request('/orders', { headers: { 'x-request-id': 'req-7' } })
    expect(res.status).toBe(200)
    await client.close()
    const lines = out.lines()
    const failed = lines.find((l) => l.msg === CLIENT_MESSAGES.failure)
    const retried = lines.find((l) => l.msg === CLIENT_MESSAGES.retry)
    expect(failed).toMatchObject({
      level: 40,
      req_id: 'req-7',
      method: 'GET',
      url: `${base}/stock`,
      attempt: 1,
      status: 503,
      error_type: '503',
    })
    expect(retried).toMatchObject({ level: 30, req_id: 'req-7', attempt: 2, after: '503' })
    expect(typeof retried?.delay_ms).toBe('number')
    // Successes are debug lines: not written at the default info level.
    expect(lines.filter((l) => l.msg === CLIENT_MESSAGES.success)).toEqual([])
    expect(JSON.stringify(lines)).not.toContain('token=x')
  })

  it('uses the root logger for calls outside a request, and logs failures with their type', async () => {
    const out = capture({ level: 'debug' })
    const client = createClient({
      interceptors: [clientLogger({ logger: out.logger })],
      retry: false,
    })
    await client.json(`${base}/ok`)
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    await client.json(`http://127.0.0.1:${port}/`).catch(() => {})
    await client.close()
    const [ok, failed] = out.lines()
    expect(ok).toMatchObject({ level: 20, msg: CLIENT_MESSAGES.success, status: 200 })
    expect(failed).toMatchObject({
      level: 40,
      error_type: 'ECONNREFUSED',
      err: { type: 'ConnectionError' },
    })
  })
})
