// Real signals to a real process: a Hono service (sigterm-child.ts) under keep-alive
// load gets SIGTERM and must lose no request, exit 0 within its bound and say so in one
// JSON log line; a second signal forces exit 1; a resource that fails to close exits 1.
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { keepAliveLoad } from './testing.ts'

const CHILD = fileURLToPath(new URL('./sigterm-child.ts', import.meta.url))
const running: ChildProcess[] = []
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
})

interface Service {
  url: string
  boundMs: number
  lines: Array<Record<string, unknown>>
  /** Every line it printed on stdout, parsed; throws on a line that is not JSON. */
  exited: Promise<{ code: number | null; atMs: number }>
  child: ChildProcess
}

async function start(env: Record<string, string> = {}): Promise<Service> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  running.push(child)
  const lines: Array<Record<string, unknown>> = []
  let buffer = ''
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      buffer += chunk
      let nl = buffer.indexOf('\n')
      while (nl !== -1) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        const parsed = JSON.parse(line) as Record<string, unknown>
        lines.push(parsed)
        if (parsed.msg === 'listening') resolve(parsed)
        nl = buffer.indexOf('\n')
      }
    })
    child.once('exit', () => reject(new Error('the service exited before listening')))
  })
  const exited = new Promise<{ code: number | null; atMs: number }>((resolve) =>
    child.once('exit', (code) => resolve({ code, atMs: performance.now() })),
  )
  const ready = await listening
  return {
    url: `http://127.0.0.1:${ready.port as number}`,
    boundMs: ready.boundMs as number,
    lines,
    exited,
    child,
  }
}

describe('SIGTERM to a running service', () => {
  it('under keep-alive load from 50 clients: no request lost, exit 0 within the bound, one summary line', async () => {
    const service = await start({ DRAIN_DELAY_MS: '1000', DRAIN_TIMEOUT_MS: '10000' })
    const rest = createServer((_req, res) => res.end('another pod'))
    await new Promise<void>((resolve) => rest.listen(0, '127.0.0.1', resolve))
    const fallback = `http://127.0.0.1:${(rest.address() as { port: number }).port}`
    try {
      const load = keepAliveLoad({ target: service.url, fallback, clients: 50, path: '/users/7' })
      await load.untilTargetServed(300)
      const sentAt = performance.now()
      service.child.kill('SIGTERM')
      const { code, atMs } = await service.exited
      const result = await load.stop()

      expect(code).toBe(0)
      expect(atMs - sentAt).toBeLessThan(service.boundMs)
      expect(result.failures).toEqual([])
      expect(result.fromFallback).toBeGreaterThan(0)
      expect(service.lines.map((l) => l.msg)).toEqual([
        'listening',
        'draining',
        'shutdown complete',
      ])
      const summary = service.lines[2] as Record<string, unknown>
      expect(summary).toMatchObject({
        level: 30,
        reason: 'SIGTERM',
        exitCode: 0,
        aborted: 0,
        connectionsDestroyed: 0,
        resources: [{ name: 'database', outcome: 'closed' }],
      })
      expect(summary.drained).toBeGreaterThan(0)
      expect(summary.durationMs).toBeLessThanOrEqual(service.boundMs)
    } finally {
      rest.close()
      rest.closeAllConnections()
    }
  }, 60_000)

  it('a request longer than the bound is answered 503 with Retry-After; the process still exits 0', async () => {
    const service = await start({ DRAIN_DELAY_MS: '0', DRAIN_TIMEOUT_MS: '300' })
    const slow = fetch(`${service.url}/slow`)
    // In flight once its handler runs (a fixed sleep could signal first on a busy host).
    await vi.waitFor(() => expect(service.lines.some((l) => l.msg === 'slow started')).toBe(true), {
      timeout: 10_000,
      interval: 10,
    })
    service.child.kill('SIGTERM')
    const res = await slow
    expect([res.status, res.headers.get('retry-after')]).toEqual([503, '1'])
    expect(await res.json()).toMatchObject({ code: 'SHUTDOWN' })
    expect((await service.exited).code).toBe(0)
    expect(service.lines.at(-1)).toMatchObject({ inFlight: 1, aborted: 1, exitCode: 0 })
  }, 30_000)

  it('a second signal exits 1 at once', async () => {
    const service = await start({ DRAIN_DELAY_MS: '20000' })
    service.child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const sentAt = performance.now()
    service.child.kill('SIGINT')
    const { code, atMs } = await service.exited
    expect(code).toBe(1)
    expect(atMs - sentAt).toBeLessThan(5000)
    expect(service.lines.at(-1)).toMatchObject({
      level: 50,
      msg: 'second signal (SIGINT): exiting now',
      forced: 'signal',
    })
  }, 30_000)

  it('exits 1 when a resource fails to close, after closing the others', async () => {
    const service = await start({ DRAIN_DELAY_MS: '0', FAIL_CLOSE: '1' })
    service.child.kill('SIGTERM')
    expect((await service.exited).code).toBe(1)
    expect(service.lines.at(-1)).toMatchObject({
      level: 50,
      exitCode: 1,
      resources: [
        { name: 'telemetry', outcome: 'failed', error: 'Error: exporter unreachable' },
        { name: 'database', outcome: 'closed' },
      ],
    })
  }, 30_000)
})
