import { problemErrorHandler } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { readJson } from './body.ts'

const app = new Hono()
app.post('/', async (c) => c.json(await readJson(c, z.object({ name: z.string() }), { limit: 64 })))
app.onError(problemErrorHandler())

const post = (body: string, type: string) =>
  app.request('/', { method: 'POST', body, headers: { 'content-type': type } })

describe('readJson', () => {
  it('answers 415 problem+json for a body that is not JSON by its content type', async () => {
    const res = await post('name=x', 'application/x-www-form-urlencoded')
    expect(res.status).toBe(415)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' })
  })

  it('answers 400 for malformed JSON and 413 past the limit, and reads good JSON', async () => {
    expect((await post('{"name":', 'application/json')).status).toBe(400)
    expect((await post(JSON.stringify({ name: 'x'.repeat(100) }), 'application/json')).status).toBe(
      413,
    )
    const ok = await post('{"name":"x"}', 'application/merge-patch+json')
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ name: 'x' })
  })
})
