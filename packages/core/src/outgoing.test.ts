import { describe, expect, it } from 'vitest'
import { outgoingErrorType, requestValue, traceStateOf } from './index.ts'

describe('requestValue()', () => {
  it('reads a record, a get(key) object (a Hono Context), or nothing', () => {
    expect(requestValue({ requestId: 'r1' }, 'requestId')).toBe('r1')
    expect(
      requestValue({ get: (k: string) => (k === 'requestId' ? 'r2' : undefined) }, 'requestId'),
    ).toBe('r2')
    expect(requestValue(Object.create(null) as Record<string, unknown>, 'x')).toBeUndefined()
    expect(requestValue(undefined, 'x')).toBeUndefined()
  })
})

describe('outgoingErrorType()', () => {
  it('prefers the error’s own errorType, then its class name, else _OTHER', () => {
    expect(outgoingErrorType(Object.assign(new Error('x'), { errorType: 'connect_timeout' }))).toBe(
      'connect_timeout',
    )
    expect(outgoingErrorType(new TypeError('x'))).toBe('TypeError')
    expect(outgoingErrorType(new Error('x'))).toBe('_OTHER')
    expect(outgoingErrorType('boom')).toBe('_OTHER')
  })
})

describe('traceStateOf()', () => {
  const ids = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }
  it('reads a string or a serializable state, and treats empty as none', () => {
    expect(traceStateOf({ ...ids, traceState: 'v=1' })).toBe('v=1')
    expect(traceStateOf({ ...ids, traceState: { serialize: () => 'v=2' } })).toBe('v=2')
    expect(traceStateOf({ ...ids, traceState: '' })).toBeUndefined()
    expect(traceStateOf(ids)).toBeUndefined()
  })
})
