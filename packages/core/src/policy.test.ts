import { describe, expect, it } from 'vitest'
import type { Policy, PolicyContext } from './index.ts'
import { compose, neverAborts, noPolicy } from './index.ts'

/** A policy that records the order it ran in and passes the context through. */
function tracer(name: string, log: string[], signal?: AbortSignal, attempt?: number): Policy {
  return {
    async execute(fn, outer, outerAttempt = 1) {
      log.push(`${name}:in`)
      try {
        return await fn({
          signal: signal ?? outer ?? neverAborts(),
          attempt: attempt ?? outerAttempt,
        })
      } finally {
        log.push(`${name}:out`)
      }
    },
  }
}

describe('compose', () => {
  it('runs policies outermost first', async () => {
    const log: string[] = []
    const p = compose(tracer('a', log), tracer('b', log), tracer('c', log))
    expect(await p.execute(() => 'ok')).toBe('ok')
    expect(log).toEqual(['a:in', 'b:in', 'c:in', 'c:out', 'b:out', 'a:out'])
  })

  it('hands an inner policy the signal and attempt of the outer one', async () => {
    const log: string[] = []
    const inner = new AbortController()
    let seen: PolicyContext | undefined
    const p = compose(tracer('retry', log, inner.signal, 3), tracer('breaker', log))
    await p.execute((ctx) => {
      seen = ctx
    })
    expect(seen?.signal).toBe(inner.signal)
    expect(seen?.attempt).toBe(3)
  })

  it('passes the caller signal to the outermost policy', async () => {
    const caller = new AbortController()
    let seen: AbortSignal | undefined
    await compose(tracer('a', []), tracer('b', [])).execute(({ signal }) => {
      seen = signal
    }, caller.signal)
    expect(seen).toBe(caller.signal)
  })

  it('propagates rejections', async () => {
    const p = compose(tracer('a', []), tracer('b', []))
    await expect(
      p.execute(() => {
        throw new Error('nope')
      }),
    ).rejects.toThrow('nope')
  })

  it('compose() with nothing is the identity policy; with one it is that policy', async () => {
    expect(compose()).toBe(noPolicy)
    const one = tracer('x', [])
    expect(compose(one)).toBe(one)
    let ctx: PolicyContext | undefined
    await noPolicy.execute((c) => {
      ctx = c
    })
    expect(ctx?.attempt).toBe(1)
    expect(ctx?.signal.aborted).toBe(false)
  })
})
