/**
 * The error of a refused call: what it carries, and its stack, which is bounded on purpose
 * (see `rejection` in errors.ts) but must still name the caller.
 */
import { isCircuitRejection, isSturdyError } from '@sturdy/core'
import { manualClock } from '@sturdy/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { BrokenCircuitError, circuitBreaker, isBrokenCircuitError } from './index.ts'

const boom = (): Promise<never> => Promise.reject(new Error('boom'))

/** A breaker tripped by one failure and held open for a minute of the manual clock. */
async function openBreaker() {
  const clock = manualClock()
  const breaker = circuitBreaker({
    name: 'payments',
    clock,
    openMs: 60_000,
    readyToTrip: (c) => c.consecutiveFailures >= 1,
  })
  await expect(breaker.execute(boom)).rejects.toThrow('boom')
  expect(breaker.state).toBe('open')
  clock.advance(15_000)
  return breaker
}

async function callerOfTheOpenBreaker(
  breaker: Awaited<ReturnType<typeof openBreaker>>,
): Promise<unknown> {
  try {
    await breaker.execute(() => 1)
  } catch (error) {
    return error
  }
  throw new Error('the open breaker admitted the call')
}

const defaultLimit = Error.stackTraceLimit
afterEach(() => {
  Error.stackTraceLimit = defaultLimit
})

describe('an open circuit refuses a call', () => {
  it('with a BrokenCircuitError that carries name, code, status and retryAfterMs', async () => {
    const error = await callerOfTheOpenBreaker(await openBreaker())
    expect(error).toBeInstanceOf(BrokenCircuitError)
    expect(error).toBeInstanceOf(Error)
    expect(isBrokenCircuitError(error)).toBe(true)
    expect(isCircuitRejection(error)).toBe(true)
    expect(isSturdyError(error)).toBe(true)
    const e = error as BrokenCircuitError
    expect(e.name).toBe('BrokenCircuitError')
    expect(e.code).toBe('BROKEN_CIRCUIT')
    expect(e.status).toBe(503)
    expect(e.breaker).toBe('payments')
    expect(e.state).toBe('open')
    expect(e.retryAfterMs).toBe(45_000)
    expect(e.message).toBe('Circuit "payments" is open')
  })

  it('with a stack that names the caller, and leaves Error.stackTraceLimit as it was', async () => {
    const error = (await callerOfTheOpenBreaker(await openBreaker())) as Error
    expect(error.stack).toMatch(/^BrokenCircuitError: Circuit "payments" is open\n/)
    expect(error.stack).toContain('callerOfTheOpenBreaker')
    expect(Error.stackTraceLimit).toBe(defaultLimit)
  })

  it('from allow() too, with the caller in the stack', async () => {
    const breaker = await openBreaker()
    function callerOfAllow(): unknown {
      try {
        breaker.allow()
      } catch (error) {
        return error
      }
      return undefined
    }
    const error = callerOfAllow() as Error
    expect(isBrokenCircuitError(error)).toBe(true)
    expect(error.stack).toContain('callerOfAllow')
    expect(Error.stackTraceLimit).toBe(defaultLimit)
  })

  it('with the full stack when the process raised Error.stackTraceLimit to debug', async () => {
    const breaker = await openBreaker()
    Error.stackTraceLimit = 50
    const error = (await callerOfTheOpenBreaker(breaker)) as Error
    // Bounded, the stack holds the breaker's frames and the caller's: 3 `at` lines.
    const frames = (error.stack ?? '').split('\n').filter((l) => l.trim().startsWith('at '))
    expect(frames.length).toBeGreaterThan(3)
    expect(Error.stackTraceLimit).toBe(50)
  })

  it('with no stack frames when the process turned stacks off', async () => {
    const breaker = await openBreaker()
    Error.stackTraceLimit = 0
    const error = (await callerOfTheOpenBreaker(breaker)) as Error
    expect(isBrokenCircuitError(error)).toBe(true)
    expect(error.stack).not.toContain(' at ')
    expect(Error.stackTraceLimit).toBe(0)
  })

  it('as a rejected promise, never a synchronous throw, and reported if nobody handles it', async () => {
    const breaker = await openBreaker()
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      let result: Promise<unknown> | undefined
      expect(() => {
        result = breaker.execute(() => 1)
      }).not.toThrow()
      expect(result).toBeInstanceOf(Promise)
      // Left unhandled on purpose: Node must still see it.
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(unhandled).toHaveLength(1)
      expect(isBrokenCircuitError(unhandled[0])).toBe(true)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('rejects with the caller signal’s reason when it already aborted', async () => {
    const breaker = await openBreaker()
    const controller = new AbortController()
    const reason = new Error('caller gave up')
    controller.abort(reason)
    await expect(breaker.execute(() => 1, controller.signal)).rejects.toBe(reason)
  })
})
