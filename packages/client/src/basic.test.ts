import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createClient } from './index.ts'
import { json, startServer } from './testing.ts'

describe('smoke', () => {
  it('json and fetch', async () => {
    const server = await startServer((req, res) => json(res, 200, { url: req.url, method: req.method }))
    const client = createClient({ baseUrl: server.url })
    try {
      expect(await client.json('/a?x=1')).toEqual({ url: '/a?x=1', method: 'GET' })
      const res = await client.fetch(`${server.url}/b`, { method: 'post', body: 'hi' })
      expect(res.status).toBe(200)
      expect(res.url).toBe(`${server.url}/b`)
      expect(await res.json()).toEqual({ url: '/b', method: 'POST' })
      const v = await client.json('/c', { schema: z.object({ url: z.string() }) })
      expect(v.url).toBe('/c')
      expect(server.seen[0]?.['x-request-timeout-ms']).toMatch(/^\d+$/)
    } finally {
      await client.close()
      await server.close()
    }
  })
})
