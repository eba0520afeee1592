import { noPolicy } from '@sturdy/core'
import { describe, expect, it } from 'vitest'
import { httpRetryableResult, idempotentOnly, isRetryableRequest, retry } from './index.ts'
import { drive, steppingClock } from './testing.ts'

describe('httpRetryableResult', () => {
  it('is true for 408, 429, 502, 503, 504 and false for everything else', () => {
    const retryable = [408, 429, 502, 503, 504]
    for (let s = 200; s < 600; s++) {
      expect(httpRetryableResult({ status: s })).toBe(retryable.includes(s))
    }
    expect(httpRetryableResult(new Response(null, { status: 503 }))).toBe(true)
    expect(httpRetryableResult(undefined)).toBe(false)
    expect(httpRetryableResult('503')).toBe(false)
    expect(httpRetryableResult({ status: '503' })).toBe(false)
  })
})

describe('isRetryableRequest / idempotentOnly', () => {
  it('allows idempotent methods, any case', () => {
    for (const m of ['GET', 'head', 'OPTIONS', 'TRACE', 'PUT', 'delete', 'QUERY']) {
      expect(isRetryableRequest({ method: m })).toBe(true)
    }
    for (const m of ['POST', 'PATCH', 'CONNECT'])
      expect(isRetryableRequest({ method: m })).toBe(false)
  })

  it('allows any method carrying a non-empty Idempotency-Key, in any header shape', () => {
    expect(isRetryableRequest({ method: 'POST', headers: { 'Idempotency-Key': 'a1' } })).toBe(true)
    expect(
      isRetryableRequest({ method: 'POST', headers: new Headers({ 'idempotency-key': 'a1' }) }),
    ).toBe(true)
    expect(isRetryableRequest({ method: 'POST', headers: { 'idempotency-key': '' } })).toBe(false)
    expect(
      isRetryableRequest(
        { method: 'PATCH', headers: { 'x-request-key': 'z' } },
        { idempotencyKeyHeader: 'X-Request-Key' },
      ),
    ).toBe(true)
  })

  it('override retries anything', () => {
    expect(isRetryableRequest({ method: 'POST' }, { override: true })).toBe(true)
  })

  it('idempotentOnly hands back the retry policy or a single-attempt pass-through', async () => {
    const clock = steppingClock()
    const policy = retry({ clock, baseDelayMs: 0 })
    const forRequest = idempotentOnly(policy)
    expect(forRequest({ method: 'GET' })).toBe(policy)
    expect(forRequest({ method: 'POST' })).toBe(noPolicy)

    let posts = 0
    await expect(
      forRequest({ method: 'POST' }).execute(() => {
        posts++
        throw new Error('503')
      }),
    ).rejects.toThrow()
    expect(posts).toBe(1)

    let keyed = 0
    await expect(
      drive(
        clock,
        forRequest({ method: 'POST', headers: { 'idempotency-key': 'k' } }).execute(() => {
          keyed++
          throw new Error('503')
        }),
      ),
    ).rejects.toThrow()
    expect(keyed).toBe(3)
  })
})
