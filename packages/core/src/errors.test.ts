import { describe, expect, it } from 'vitest'
import {
  abortKind,
  ClientClosedError,
  errorGuard,
  isClientClosedError,
  isPayloadTooLargeError,
  isRequestTimeoutError,
  isShutdownError,
  isSturdyError,
  isTimeoutError,
  isValidationError,
  lowerStackLimit,
  PayloadTooLargeError,
  RequestTimeoutError,
  restoreStackLimit,
  ShutdownError,
  SturdyError,
  TimeoutError,
  ValidationError,
} from './index.ts'

describe('branded errors', () => {
  it('carry a code, a status, the cause, and pass their own guard only', () => {
    const cause = new Error('socket hang up')
    const e = new TimeoutError('too slow', 250, { cause })
    expect(e).toBeInstanceOf(Error)
    expect(e.code).toBe('TIMEOUT')
    expect(e.status).toBe(504)
    expect(e.timeoutMs).toBe(250)
    expect(e.cause).toBe(cause)
    expect(e.name).toBe('TimeoutError')
    expect(isTimeoutError(e)).toBe(true)
    expect(isClientClosedError(e)).toBe(false)
    expect(isSturdyError(e)).toBe(true)
  })

  it('omit cause when none is given', () => {
    expect('cause' in new ShutdownError()).toBe(false)
  })

  it('guards recognise errors made by another copy of the package (brand, not instanceof)', () => {
    // What a second copy of @sturdy/core would produce: a different class, the same brand.
    class ForeignError extends Error {
      readonly code = 'TIMEOUT'
    }
    const foreign = new ForeignError('x')
    Object.defineProperty(foreign, Symbol.for('@sturdy/error'), { value: true })
    expect(foreign instanceof SturdyError).toBe(false)
    expect(isTimeoutError(foreign)).toBe(true)
    expect(isSturdyError(foreign)).toBe(true)
  })

  it('guards reject look-alikes without the brand, and non-objects', () => {
    const fake = Object.assign(new Error('x'), { code: 'TIMEOUT' })
    for (const v of [fake, null, undefined, 'TIMEOUT', 42, { code: 'TIMEOUT' }]) {
      expect(isTimeoutError(v)).toBe(false)
      expect(isSturdyError(v)).toBe(false)
    }
  })

  it('errorGuard builds guards for feature errors', () => {
    class BrokenCircuit extends SturdyError {
      constructor() {
        super('BROKEN_CIRCUIT', 'open', 503)
      }
    }
    const guard = errorGuard<BrokenCircuit>('BROKEN_CIRCUIT')
    expect(guard(new BrokenCircuit())).toBe(true)
    expect(guard(new TimeoutError())).toBe(false)
  })

  it('each built-in error maps to its status and guard', () => {
    const cases: Array<[SturdyError, number, (e: unknown) => boolean]> = [
      [new TimeoutError(), 504, isTimeoutError],
      [new ClientClosedError(), 499, isClientClosedError],
      [new ShutdownError(), 503, isShutdownError],
      [new ValidationError('bad', [{ path: 'a', message: 'm' }]), 400, isValidationError],
      [new PayloadTooLargeError(1024), 413, isPayloadTooLargeError],
      [new RequestTimeoutError(), 408, isRequestTimeoutError],
    ]
    for (const [e, status, guard] of cases) {
      expect(e.status).toBe(status)
      expect(guard(e)).toBe(true)
    }
  })

  it('abortKind tells a deadline from a disconnect from a shutdown', () => {
    expect(abortKind(new TimeoutError())).toBe('deadline')
    expect(abortKind(new RequestTimeoutError())).toBe('deadline')
    expect(abortKind(new ClientClosedError())).toBe('client-disconnect')
    expect(abortKind(new ShutdownError())).toBe('shutdown')
    expect(abortKind(new DOMException('aborted', 'AbortError'))).toBe('other')
    expect(abortKind(undefined)).toBe('other')
  })
})

describe('lowerStackLimit / restoreStackLimit', () => {
  const frames = (e: Error) =>
    (e.stack ?? '').split('\n').filter((l) => l.trimStart().startsWith('at '))
  const deep = (n: number, f: () => Error): Error => (n === 0 ? f() : deep(n - 1, f))

  it('bounds the stack to the refusing function and its callers, and gives the limit back', () => {
    const before = Error.stackTraceLimit
    function refuseForTheTest(): Error {
      const previous = lowerStackLimit(3)
      try {
        return new SturdyError('FULL', 'no room', 503)
      } finally {
        restoreStackLimit(previous)
      }
    }
    const error = deep(20, refuseForTheTest)
    expect(error.stack).toMatch(/^SturdyError: no room\n/)
    const recorded = frames(error)
    expect(recorded).toHaveLength(3)
    expect(recorded[0]).toContain('refuseForTheTest')
    expect(Error.stackTraceLimit).toBe(before)
  })

  it('leaves a lower limit, and a limit raised above the default, as the process set them', () => {
    const before = Error.stackTraceLimit
    const make = () => {
      const previous = lowerStackLimit(3)
      try {
        return new Error('x')
      } finally {
        restoreStackLimit(previous)
      }
    }
    try {
      Error.stackTraceLimit = 1
      expect(lowerStackLimit(3)).toBeUndefined()
      expect(frames(deep(20, make))).toHaveLength(1)
      expect(Error.stackTraceLimit).toBe(1)
      Error.stackTraceLimit = 50
      expect(lowerStackLimit(3)).toBeUndefined()
      expect(frames(deep(20, make)).length).toBeGreaterThan(20)
      expect(Error.stackTraceLimit).toBe(50)
    } finally {
      Error.stackTraceLimit = before
    }
  })
})
