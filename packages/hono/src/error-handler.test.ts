import { problemResponse, SturdyError, TimeoutError, ValidationError } from '@sturdy/core'
import { Hono } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'
import { problemErrorHandler } from './index.ts'

function appThrowing(error: unknown, seen?: unknown[]): Hono {
  const app = new Hono()
  app.onError(problemErrorHandler({ onUnexpected: (e) => seen?.push(e) }))
  app.get('/', () => {
    throw error
  })
  return app
}

describe('problemErrorHandler', () => {
  it('renders a Sturdy error with its status as problem+json', async () => {
    const res = await appThrowing(new TimeoutError('Deadline of 50 ms exceeded')).request('/')
    expect(res.status).toBe(504)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    expect(await res.json()).toEqual({
      title: 'Gateway Timeout',
      status: 504,
      code: 'TIMEOUT',
      detail: 'Deadline of 50 ms exceeded',
    })
  })

  it('names the failing fields of a validation error', async () => {
    const res = await appThrowing(
      new ValidationError('Invalid body', [{ path: 'email', message: 'required' }]),
    ).request('/')
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ errors: [{ path: 'email', message: 'required' }] })
  })

  it('adds Retry-After for errors that carry retryAfterMs', async () => {
    class Broken extends SturdyError {
      readonly retryAfterMs = 1500
      constructor() {
        super('BROKEN_CIRCUIT', 'open', 503)
      }
    }
    const res = await appThrowing(new Broken()).request('/')
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('2')
  })

  it('answers unexpected errors with a bare 500, reports them, and leaks nothing', async () => {
    const seen: unknown[] = []
    const secret = new Error('password=hunter2')
    const res = await appThrowing(secret, seen).request('/')
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ title: 'Internal Server Error', status: 500 })
    expect(text).not.toContain('hunter2')
    expect(seen).toEqual([secret])
  })

  it("keeps an HTTPException's status, rendered as a problem", async () => {
    const res = await appThrowing(new HTTPException(401, { message: 'who are you' })).request('/')
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ title: 'Unauthorized', status: 401, detail: 'who are you' })
    const outage = await appThrowing(new HTTPException(503)).request('/')
    expect(outage.status).toBe(503)
    expect(await outage.json()).toEqual({ title: 'Service Unavailable', status: 503 })
  })

  it('never shows the message of a 5xx HTTPException (it describes the server, not the request)', async () => {
    const res = await appThrowing(
      new HTTPException(502, { message: 'upstream db-7.internal:5432 refused' }),
    ).request('/')
    expect(res.status).toBe(502)
    const text = await res.text()
    expect(JSON.parse(text)).toEqual({ title: 'Bad Gateway', status: 502 })
    expect(text).not.toContain('db-7')
  })

  it('answers exactly what core problemResponse renders for the same error', async () => {
    class Broken extends SturdyError {
      readonly retryAfterMs = 4950.062818000002
      constructor() {
        super('BROKEN_CIRCUIT', 'Circuit "x" is open', 503)
      }
    }
    for (const error of [new Broken(), new TimeoutError('Deadline of 50 ms exceeded', 50)]) {
      const res = await appThrowing(error).request('/')
      const expected = problemResponse(error)
      expect(res.status).toBe(expected.status)
      expect(await res.text()).toBe(expected.body)
      expect(Object.fromEntries(res.headers)).toEqual(expected.headers)
    }
  })

  it("sends an HTTPException's own response as is", async () => {
    const custom = new Response('{"x":1}', {
      status: 418,
      headers: { 'content-type': 'application/json' },
    })
    const res = await appThrowing(new HTTPException(418, { res: custom })).request('/')
    expect(res.status).toBe(418)
    expect(await res.json()).toEqual({ x: 1 })
  })
})
