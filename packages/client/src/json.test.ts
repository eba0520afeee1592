/** `client.json()`: validation, status errors with problem details, and the fetch-compatible call. */
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  createClient,
  isHttpStatusError,
  isResponseTooLargeError,
  isResponseValidationError,
} from './index.ts'
import type { TestServer } from './testing.ts'
import { json, startServer } from './testing.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function setup(handler: Parameters<typeof startServer>[0], options = {}) {
  const s: TestServer = await startServer(handler)
  const c = createClient({ baseUrl: s.url, retry: false, ...options })
  cleanup.push(
    () => s.close(),
    () => c.close(),
  )
  return { s, c }
}

const Order = z.object({
  id: z.string(),
  items: z.array(z.object({ sku: z.string(), price: z.number() })),
})

describe('json()', () => {
  it('validates with a Standard Schema and types the result', async () => {
    const { c } = await setup((_req, res) =>
      json(res, 200, { id: 'o1', items: [{ sku: 'a', price: 3 }] }),
    )
    const order = await c.json('/orders/o1', { schema: Order })
    expect(order.items[0]?.price).toBe(3)
  })

  it('names the failing fields of invalid upstream data', async () => {
    const { c } = await setup((_req, res) =>
      json(res, 200, { id: 7, items: [{ sku: 'a', price: '3' }] }),
    )
    const error = await c
      .json('/orders/o1?token=secret', { schema: Order })
      .catch((e: unknown) => e)
    expect(isResponseValidationError(error)).toBe(true)
    const e = error as { issues: { path: string }[]; message: string; status: number }
    expect(e.issues.map((i) => i.path).sort()).toEqual(['id', 'items.0.price'])
    expect(e.message).toContain('items.0.price')
    expect(e.message).not.toContain('secret')
    expect(e.status).toBe(502)
  })

  it('reports a body that is not JSON as invalid data', async () => {
    const { c } = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<html>')
    })
    const error = await c.json('/').catch((e: unknown) => e)
    expect(isResponseValidationError(error)).toBe(true)
  })

  it('throws HttpStatusError with the status, the problem+json body and Retry-After', async () => {
    const { c } = await setup((_req, res) => {
      const body = JSON.stringify({ title: 'Out of stock', status: 409, sku: 'a' })
      res.writeHead(409, { 'content-type': 'application/problem+json', 'retry-after': '3' })
      res.end(body)
    })
    const error = await c
      .json('/orders', { method: 'POST', json: { sku: 'a' } })
      .catch((e: unknown) => e)
    expect(isHttpStatusError(error)).toBe(true)
    expect(error).toMatchObject({
      upstreamStatus: 409,
      status: 502,
      retryAfterMs: 3000,
      problem: { title: 'Out of stock', sku: 'a' },
      method: 'POST',
    })
    expect((error as Error).message).toContain('Out of stock')
  })

  it('refuses a body larger than maxResponseBytes', async () => {
    const { c } = await setup((_req, res) => json(res, 200, { pad: 'x'.repeat(5000) }), {
      maxResponseBytes: 1000,
    })
    expect(isResponseTooLargeError(await c.json('/').catch((e: unknown) => e))).toBe(true)
  })
})

describe('fetch()', () => {
  it('takes a Request: method, headers and body', async () => {
    const { s, c } = await setup((req, res) => {
      let text = ''
      req.on('data', (d: Buffer) => {
        text += d
      })
      req.on('end', () =>
        json(res, 200, { method: req.method, text, type: req.headers['content-type'] }),
      )
    })
    const request = new Request(`${s.url}/x`, {
      method: 'PUT',
      headers: { 'content-type': 'text/csv' },
      body: 'a,b',
    })
    const res = await c.fetch(request)
    expect(await res.json()).toEqual({ method: 'PUT', text: 'a,b', type: 'text/csv' })
    const form = await c.fetch('/f', { method: 'POST', body: new URLSearchParams({ a: '1' }) })
    expect(await form.json()).toMatchObject({
      text: 'a=1',
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
    })
  })

  it('follows redirects like fetch (303 becomes GET), or hands them back with redirect: manual', async () => {
    const { c } = await setup((req, res) => {
      if (req.url === '/old') {
        res.writeHead(303, { location: '/new', 'content-length': '0' })
        res.end()
      } else json(res, 200, { at: req.url, method: req.method })
    })
    const res = await c.fetch('/old', { method: 'POST', body: 'x' })
    expect(await res.json()).toEqual({ at: '/new', method: 'GET' })
    expect(res.url).toMatch(/\/new$/)
    const manual = await c.fetch('/old', { redirect: 'manual' })
    expect(manual.status).toBe(303)
    await manual.body?.cancel()
  })

  it('returns non-2xx answers as responses, with their headers', async () => {
    const { c } = await setup((_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2'])
      json(res, 404, { missing: true })
    })
    const res = await c.fetch('/')
    expect(res.status).toBe(404)
    expect(res.ok).toBe(false)
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(await res.json()).toEqual({ missing: true })
  })

  it('refuses URLs with credentials and bodies on GET', async () => {
    const { c } = await setup((_req, res) => json(res, 200, {}))
    await expect(c.fetch('http://user:pw@127.0.0.1:1/')).rejects.toThrow(/credentials/)
    await expect(c.fetch('/', { body: 'x' })).rejects.toThrow(/cannot have a body/)
  })
})
