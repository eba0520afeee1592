import { TimeoutError } from '@sturdy/core'
import { describe, expect, it } from 'vitest'
import { serializeError } from './index.ts'

describe('serializeError', () => {
  it('keeps type, message and code; the stack only when asked', () => {
    const e = new TimeoutError('slow', 100)
    expect(serializeError(e, false)).toEqual({
      type: 'TimeoutError',
      message: 'slow',
      code: 'TIMEOUT',
    })
    expect(serializeError(e, true).stack).toMatch(/^TimeoutError: slow/)
  })

  it('follows causes a few levels deep, and survives cycles', () => {
    const root = new Error('root')
    const mid = new Error('mid', { cause: root })
    const top = new TypeError('top', { cause: mid })
    expect(serializeError(top, false)).toEqual({
      type: 'TypeError',
      message: 'top',
      cause: { type: 'Error', message: 'mid', cause: { type: 'Error', message: 'root' } },
    })
    const a = new Error('a')
    const b = new Error('b', { cause: a })
    ;(a as { cause?: unknown }).cause = b
    expect(JSON.stringify(serializeError(a, false))).toContain('"message":"b"')
  })

  it('describes non-errors by type', () => {
    expect(serializeError('boom', true)).toEqual({ type: 'string', message: 'boom' })
    expect(serializeError(null, true)).toEqual({ type: 'null', message: 'null' })
    expect(serializeError({ a: 1 }, true)).toEqual({ type: 'object', message: '[object Object]' })
  })
})
