import { describe, expect, it } from 'vitest'
import { headerValue, parseGrpcPushback, parseRetryAfter, readPushback } from './index.ts'

const NOW = Date.UTC(2026, 10, 28, 9, 0, 0) // Sat, 28 Nov 2026 09:00:00 GMT

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0)
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000)
  })

  it('reads the three HTTP-date forms of RFC 9110, as UTC', () => {
    expect(parseRetryAfter('Sat, 28 Nov 2026 09:00:30 GMT', NOW)).toBe(30_000)
    expect(parseRetryAfter('Saturday, 28-Nov-26 09:01:00 GMT', NOW)).toBe(60_000)
    expect(parseRetryAfter('Sat Nov 28 09:00:05 2026', NOW)).toBe(5_000)
    expect(parseRetryAfter('Sun Nov  1 09:00:00 2026', Date.UTC(2026, 10, 1, 8, 59, 59))).toBe(1000)
  })

  it('a date in the past means now', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0)
  })

  it('rejects what is neither (Date.parse alone would accept some of these)', () => {
    for (const v of ['', '5.5', '-1', '1e3', 'soon', '2026-11-28T09:00:30Z', 'Sat, 28 Nov 2026']) {
      expect(parseRetryAfter(v, NOW)).toBeUndefined()
    }
  })
})

describe('parseGrpcPushback (gRFC A6)', () => {
  it('a non-negative integer is the delay; negative or unparseable means do not retry', () => {
    expect(parseGrpcPushback('0')).toBe(0)
    expect(parseGrpcPushback('1500')).toBe(1500)
    expect(parseGrpcPushback('-1')).toBe('stop')
    expect(parseGrpcPushback('1.5')).toBe('stop')
    expect(parseGrpcPushback('soon')).toBe('stop')
  })
})

describe('readPushback', () => {
  it('reads a fetch Response', () => {
    const res = new Response(null, { status: 503, headers: { 'Retry-After': '3' } })
    expect(readPushback(res, NOW)).toBe(3000)
  })

  it('reads an HTTP client error with response.headers, as a Node-style record', () => {
    const e = Object.assign(new Error('503'), {
      response: { headers: { 'retry-after': ['7', '9'] } },
    })
    expect(readPushback(e, NOW)).toBe(7000)
  })

  it('reads gRPC metadata whose get() returns arrays, preferring grpc-retry-pushback-ms', () => {
    const metadata = {
      get: (k: string) =>
        k === 'grpc-retry-pushback-ms' ? ['250'] : k === 'retry-after' ? ['9'] : [],
    }
    expect(readPushback({ metadata }, NOW)).toBe(250)
  })

  it('falls back to a retryAfterMs property, and says nothing otherwise', () => {
    expect(readPushback({ retryAfterMs: 900 }, NOW)).toBe(900)
    expect(readPushback({ retryAfterMs: -5 }, NOW)).toBeUndefined()
    expect(readPushback(new Error('x'), NOW)).toBeUndefined()
    expect(readPushback('x', NOW)).toBeUndefined()
    expect(readPushback(null, NOW)).toBeUndefined()
    expect(readPushback({ headers: { 'retry-after': 'garbage' } }, NOW)).toBeUndefined()
  })

  it('headerValue matches plain records case-insensitively', () => {
    expect(headerValue({ 'Idempotency-Key': 'k' }, 'idempotency-key')).toBe('k')
    expect(headerValue(new Headers({ 'X-A': '1' }), 'x-a')).toBe('1')
    expect(headerValue({}, 'x')).toBeUndefined()
  })
})
