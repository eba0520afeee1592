import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { httpRetryableResult, idempotentOnly, retry } from './index.ts'
import { steppingClock } from './testing.ts'

/** A real server on 127.0.0.1: the first request gets 503 + Retry-After and a body that never ends. */
async function flakyServer(): Promise<{
  url: string
  requests: string[]
  firstClosed: Promise<void>
  close(): Promise<void>
}> {
  const requests: string[] = []
  let resolveClosed: () => void = () => {}
  const firstClosed = new Promise<void>((r) => {
    resolveClosed = r
  })
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.headers['idempotency-key'] ?? '-'}`)
    if (requests.length === 1) {
      res.on('close', resolveClosed)
      res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' })
      res.write('overloaded, and this body never ends')
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    firstClosed,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

let cleanup: (() => Promise<void>) | undefined
afterEach(async () => {
  await cleanup?.()
  cleanup = undefined
})

describe('retrying real fetch calls (127.0.0.1)', () => {
  it('honours the Retry-After of a 503, cancels the abandoned body, and returns the 200', async () => {
    const server = await flakyServer()
    cleanup = server.close
    const clock = steppingClock()
    const policy = retry({ clock, retryOnResult: httpRetryableResult })
    const delays: number[] = []
    policy.events.on('retry', (e) => delays.push(e.delayMs))

    const pending = policy.execute(({ signal }) => fetch(server.url, { signal }))
    await vi.waitFor(() => expect(clock.pending()).toBe(1), { timeout: 5_000 })
    expect(delays).toEqual([1000])
    // The 503's body was cancelled before sleeping, so the server sees that response closed
    // even though it never ended it: the connection is not held for the whole retry.
    await server.firstClosed
    clock.manual.advance(1000)
    const res = await pending
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('ok')
    expect(server.requests).toHaveLength(2)
  })

  it('makes exactly one attempt for a POST without an Idempotency-Key', async () => {
    const server = await flakyServer()
    cleanup = server.close
    const clock = steppingClock()
    const forRequest = idempotentOnly(retry({ clock, retryOnResult: httpRetryableResult }))
    const init = { method: 'POST', body: 'x' }
    const res = await forRequest(init).execute(({ signal }) =>
      fetch(server.url, { ...init, signal }),
    )
    expect(res.status).toBe(503)
    await res.body?.cancel()
    expect(server.requests).toEqual(['POST -'])
  })
})
