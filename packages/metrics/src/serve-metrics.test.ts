import { request } from 'node:http'
import { Counter, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { parseExposition } from './parse-exposition.test-util.ts'
import { serveMetrics } from './serve-metrics.ts'

interface Reply {
  status: number
  contentType: string | undefined
  body: string
}

/** One request on a fresh connection (no pooled sockets outlive the test). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body }),
      )
    })
    req.on('timeout', () => req.destroy(new Error('timed out')))
    req.on('error', reject)
    req.end()
  })
}

const servers = () =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap')
    .length

/** Client sockets finish closing a few event-loop turns after the server's close. */
async function settledHandles(before: number): Promise<number> {
  for (let i = 0; i < 50 && servers() > before; i++) await new Promise((r) => setImmediate(r))
  return servers()
}

describe('serveMetrics', () => {
  it('serves the registry on its own port, negotiates, and closes every handle', async () => {
    const before = servers()
    const registry = new Registry()
    new Counter({ name: 'jobs_total', help: 'Jobs.', registers: [registry] }).inc(2)
    const server = await serveMetrics({ registry, port: 0, host: '127.0.0.1' })
    expect(server.port).toBeGreaterThan(0)
    expect(server.host).toBe('127.0.0.1')
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/metrics`)

    const text = await get(server.url)
    expect(text.status).toBe(200)
    expect(text.contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(parseExposition(text.body).value('jobs_total')).toBe(2)

    const om = await get(`${server.url}?x=1`, { accept: 'application/openmetrics-text' })
    expect(om.contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8')
    expect(om.body.endsWith('# EOF\n')).toBe(true)

    expect((await get(server.url, {}, 'HEAD')).body).toBe('')
    expect((await get(`http://127.0.0.1:${server.port}/other`)).status).toBe(404)
    expect((await get(server.url, {}, 'POST')).status).toBe(404)

    await server.close()
    await server.close()
    expect(await settledHandles(before)).toBe(before)
  })

  it('closes while a keep-alive connection is still open', async () => {
    const before = servers()
    const server = await serveMetrics({ registry: new Registry(), port: 0, host: '127.0.0.1' })
    const { Agent } = await import('node:http')
    const agent = new Agent({ keepAlive: true })
    await new Promise<void>((resolve, reject) => {
      request(server.url, { agent }, (res) => {
        res.resume()
        res.on('end', resolve)
      })
        .on('error', reject)
        .end()
    })
    await server.close()
    agent.destroy()
    expect(await settledHandles(before)).toBe(before)
  })

  it('rejects when the port is taken', async () => {
    const first = await serveMetrics({ registry: new Registry(), port: 0, host: '127.0.0.1' })
    await expect(
      serveMetrics({ registry: new Registry(), port: first.port, host: '127.0.0.1' }),
    ).rejects.toThrow(/EADDRINUSE/)
    await first.close()
  })
})
