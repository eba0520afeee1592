/**
 * No SDK registered — what a library user gets before (or without) wiring
 * OpenTelemetry: the API is a no-op, requests are served, nothing is shared on the
 * exchange and no header is written. The package must never need the SDK.
 */
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { injectTraceHeaders, tracing } from './index.ts'

describe('without an OpenTelemetry SDK', () => {
  it('serves requests, shares no all-zero ids, writes no headers', async () => {
    const app = new Hono().use(sturdy(tracing()))
    app.get('/users/:id', (c) =>
      c.json({ trace: c.var.trace ?? null, out: injectTraceHeaders({}) }),
    )
    const res = await app.request('/users/1', {
      headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ trace: null, out: {} })
  })

  it('handles errors without an SDK as well', async () => {
    const app = new Hono().use(sturdy(tracing()))
    app.get('/boom', () => {
      throw new Error('boom')
    })
    app.onError((_e, c) => c.text('failed', 500))
    expect((await app.request('/boom')).status).toBe(500)
  })
})
