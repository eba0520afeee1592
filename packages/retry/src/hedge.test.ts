import { getEventListeners } from 'node:events'
import type { HedgeEventMap } from '@sturdy/core'
import { BROKEN_CIRCUIT_CODE, compose, SturdyError, ValidationError } from '@sturdy/core'
import { describe, expect, it } from 'vitest'
import {
  doNotRetry,
  HEDGE_DEFAULTS,
  hedge,
  httpRetryableResult,
  idempotentOnly,
  isHedgeLostError,
  retry,
  retryBudget,
} from './index.ts'
import { drive, steppingClock, work } from './testing.ts'

/** Records every event of a hedge policy, with the clock's time. */
function record(
  policy: {
    events: {
      on: <K extends keyof HedgeEventMap>(k: K, f: (p: HedgeEventMap[K]) => void) => unknown
    }
  },
  now: () => number,
) {
  const seen: Array<{ at: number; event: keyof HedgeEventMap; payload: unknown }> = []
  for (const event of ['hedge', 'hedgeWon', 'budgetExhausted'] as const) {
    policy.events.on(event, (payload) => seen.push({ at: now(), event, payload }))
  }
  return seen
}

describe('hedge(): schedule', () => {
  it('an answer within the delay sends no hedge and leaves no timer', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 100 })
    const seen = record(policy, clock.now)
    const starts: number[] = []
    const result = await drive(
      clock,
      policy.execute(async ({ signal, attempt }) => {
        starts.push(clock.now())
        await work(clock, 99, signal)
        return attempt
      }),
    )
    expect(result).toBe(1)
    expect(starts).toEqual([0])
    expect(seen).toEqual([])
    expect(clock.pending()).toBe(0)
  })

  it('no answer after the delay starts a hedge; the first answer wins and the loser is aborted', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 100 })
    const seen = record(policy, clock.now)
    const signals: AbortSignal[] = []
    const latency = [1000, 30]
    const result = await drive(
      clock,
      policy.execute(async ({ signal, attempt }) => {
        signals.push(signal)
        await work(clock, latency[attempt - 1] as number, signal)
        return `attempt ${attempt}`
      }),
    )
    expect(result).toBe('attempt 2')
    expect(clock.now()).toBe(130)
    expect(signals[0]?.aborted).toBe(true)
    expect(isHedgeLostError(signals[0]?.reason)).toBe(true)
    expect(signals[1]?.aborted).toBe(false)
    expect(seen).toEqual([
      {
        at: 100,
        event: 'hedge',
        payload: { name: 'hedge', attempt: 2, trigger: 'delay', delayMs: 100 },
      },
      {
        at: 130,
        event: 'hedgeWon',
        payload: { name: 'hedge', attempt: 2, attempts: 2, durationMs: 130 },
      },
    ])
    expect(clock.pending()).toBe(0)
  })

  it('the first attempt can still win after a hedge started: the hedge is aborted, no hedgeWon', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 100 })
    const seen = record(policy, clock.now)
    const signals: AbortSignal[] = []
    const latency = [150, 1000]
    const result = await drive(
      clock,
      policy.execute(async ({ signal, attempt }) => {
        signals.push(signal)
        await work(clock, latency[attempt - 1] as number, signal)
        return attempt
      }),
    )
    expect(result).toBe(1)
    expect(signals[1]?.aborted).toBe(true)
    expect(seen.map((s) => s.event)).toEqual(['hedge'])
  })

  it('starts at most maxHedgedAttempts hedges, one delay apart', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 50, maxHedgedAttempts: 3 })
    const starts: number[] = []
    const result = await drive(
      clock,
      policy.execute(async ({ signal, attempt }) => {
        starts.push(clock.now())
        await work(clock, 1000, signal)
        return attempt
      }),
    )
    expect(starts).toEqual([0, 50, 100, 150])
    expect(result).toBe(1)
    expect(clock.now()).toBe(1000)
  })

  it('maxHedgedAttempts 0 is a pass-through (fallback still applies)', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 0, maxHedgedAttempts: 0, fallback: () => 'fallback' })
    let calls = 0
    const result = await drive(
      clock,
      policy.execute(async () => {
        calls++
        throw new Error('down')
      }),
    )
    expect(calls).toBe(1)
    expect(result).toBe('fallback')
  })

  it('delay 0 starts every attempt at once', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 0, maxHedgedAttempts: 2 })
    const starts: number[] = []
    const result = await drive(
      clock,
      policy.execute(async ({ signal, attempt }) => {
        starts.push(clock.now())
        await work(clock, 30 - attempt * 10, signal)
        return attempt
      }),
    )
    expect(starts).toEqual([0, 0, 0])
    expect(result).toBe(3)
  })
})

describe('hedge(): outcomes', () => {
  it('an unacceptable result starts the next hedge at once and its body is discarded', async () => {
    const clock = steppingClock()
    const discarded: unknown[] = []
    const policy = hedge({
      clock,
      delayMs: 1000,
      retryOnResult: httpRetryableResult,
      discardResult: (r) => discarded.push(r),
      pushback: false,
    })
    const seen = record(policy, clock.now)
    const starts: number[] = []
    const bad = { status: 503 }
    const result = await drive(
      clock,
      policy.execute(async ({ signal, attempt }) => {
        starts.push(clock.now())
        await work(clock, 10, signal)
        return attempt === 1 ? bad : { status: 200 }
      }),
    )
    expect(result).toEqual({ status: 200 })
    expect(starts).toEqual([0, 10])
    expect(seen[0]?.payload).toMatchObject({ attempt: 2, trigger: 'failure' })
    expect(discarded).toEqual([bad])
  })

  it('when every attempt fails, the last error is thrown — or the fallback answers', async () => {
    const clock = steppingClock()
    const failing = (policy: ReturnType<typeof hedge>) =>
      policy.execute(async ({ signal, attempt }) => {
        await work(clock, 5, signal)
        throw new Error(`down ${attempt}`)
      })
    await expect(drive(clock, failing(hedge({ clock, maxHedgedAttempts: 2 })))).rejects.toThrow(
      'down 3',
    )
    const failures: unknown[] = []
    const withFallback = hedge({
      clock,
      maxHedgedAttempts: 2,
      fallback: (f) => {
        failures.push(f)
        return 'cached'
      },
    })
    await expect(drive(clock, failing(withFallback))).resolves.toBe('cached')
    expect(failures).toEqual([{ kind: 'error', attempt: 3, error: new Error('down 3') }])
  })

  it('unacceptable results to the end: the last result is returned', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, retryOnResult: httpRetryableResult, pushback: false })
    const result = await drive(
      clock,
      policy.execute(async ({ attempt }) => ({ status: 503, attempt })),
    )
    expect(result).toEqual({ status: 503, attempt: 2 })
  })

  it('a final error (a 4xx, doNotRetry) is thrown at once and aborts the others', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 10 })
    const signals: AbortSignal[] = []
    const invalid = new ValidationError('bad id')
    const p = policy.execute(async ({ signal, attempt }) => {
      signals.push(signal)
      await work(clock, attempt === 1 ? 1000 : 5, signal)
      throw invalid
    })
    await expect(drive(clock, p)).rejects.toBe(invalid)
    expect(clock.now()).toBe(15)
    expect(signals[0]?.aborted).toBe(true)

    const cause = new Error('no')
    const stop = hedge({ clock, delayMs: 10 }).execute(async () => {
      throw doNotRetry(cause)
    })
    await expect(drive(clock, stop)).rejects.toBe(cause)
  })

  it('a synchronous throw is an attempt failure, not a crash', async () => {
    const clock = steppingClock()
    let calls = 0
    const p = hedge({ clock, delayMs: 10 }).execute(() => {
      calls++
      if (calls === 1) throw new Error('sync')
      return 'ok'
    })
    await expect(drive(clock, p)).resolves.toBe('ok')
  })

  it('a throwing predicate fails the attempt; retryOn then decides', async () => {
    const clock = steppingClock()
    const policy = hedge({
      clock,
      retryOnResult: () => {
        throw new Error('predicate')
      },
      retryOn: () => false,
    })
    await expect(
      drive(
        clock,
        policy.execute(async () => 1),
      ),
    ).rejects.toThrow('predicate')
  })

  it('server pushback: stop ends hedging, a delay postpones the next hedge', async () => {
    const clock = steppingClock()
    const starts: number[] = []
    const stop = hedge({ clock, delayMs: 10, maxHedgedAttempts: 3 })
    await expect(
      drive(
        clock,
        stop.execute(async ({ attempt }) => {
          starts.push(clock.now())
          throw Object.assign(new Error(`e${attempt}`), {
            headers: { 'grpc-retry-pushback-ms': '-1' },
          })
        }),
      ),
    ).rejects.toThrow('e1')
    expect(starts).toEqual([0])

    starts.length = 0
    const later = hedge({ clock, delayMs: 10, maxHedgedAttempts: 1 })
    const t0 = clock.now()
    const result = await drive(
      clock,
      later.execute(async ({ attempt }) => {
        starts.push(clock.now() - t0)
        if (attempt === 1) throw Object.assign(new Error('busy'), { retryAfterMs: 300 })
        return 'ok'
      }),
    )
    expect(result).toBe('ok')
    expect(starts).toEqual([0, 300])
  })
})

describe('hedge(): circuit breakers', () => {
  it('an open circuit stops hedging at once instead of waiting out its retryAfterMs', async () => {
    const clock = steppingClock()
    // What @sturdy/breaker throws while open (core's code and shape; the breaker itself
    // is not a dependency here: it depends on this package).
    const open = Object.assign(new SturdyError(BROKEN_CIRCUIT_CODE, 'Circuit is open', 503), {
      state: 'open',
      retryAfterMs: 30_000,
    })
    const policy = hedge({ clock, delayMs: 10, maxHedgedAttempts: 3 })
    let calls = 0
    const t0 = clock.now()
    const error = await drive(
      clock,
      policy.execute(async () => {
        calls++
        throw open
      }),
    ).catch((e: unknown) => e)
    expect(error).toBe(open)
    expect(calls).toBe(1)
    expect(clock.now() - t0).toBe(0)
  })

  it('a pushback longer than maxPushbackMs ends hedging', async () => {
    const clock = steppingClock()
    let calls = 0
    const error = await drive(
      clock,
      hedge({ clock, delayMs: 10, maxPushbackMs: 1000 }).execute(async () => {
        calls++
        throw Object.assign(new Error('busy'), { retryAfterMs: 5000 })
      }),
    ).catch((e: unknown) => e)
    expect((error as Error).message).toBe('busy')
    expect(calls).toBe(1)
    expect(() => hedge({ maxPushbackMs: -1 })).toThrow(RangeError)
  })
})

describe('hedge(): budget, idempotency, composition', () => {
  it('each hedge withdraws from the shared budget; with it spent no hedge is sent', async () => {
    const clock = steppingClock()
    // Reserve of exactly one retry, and deposits that never add up to another.
    const budget = retryBudget({ clock, ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 })
    expect(budget.available()).toBe(1)
    const policy = hedge({ clock, delayMs: 10, budget })
    const seen = record(policy, clock.now)
    const slow = () =>
      policy.execute(async ({ signal, attempt }) => {
        await work(clock, attempt === 1 ? 100 : 5, signal)
        return attempt
      })
    expect(await drive(clock, slow())).toBe(2)
    expect(budget.available()).toBe(0)
    expect(await drive(clock, slow())).toBe(1)
    expect(seen.map((s) => s.event)).toEqual(['hedge', 'hedgeWon', 'budgetExhausted'])
    expect(seen[2]?.payload).toEqual({ name: 'hedge', attempt: 2 })
  })

  it('a budget refusal after a failure ends the call with that failure', async () => {
    const clock = steppingClock()
    const budget = retryBudget({ clock, ratio: 0, minRetriesPerSecond: 0 })
    const policy = hedge({ clock, budget })
    await expect(
      drive(
        clock,
        policy.execute(async () => {
          throw new Error('down')
        }),
      ),
    ).rejects.toThrow('down')
  })

  it('idempotentOnly: a POST without an Idempotency-Key is never hedged', async () => {
    const clock = steppingClock()
    const forRequest = idempotentOnly(hedge({ clock, delayMs: 10 }))
    let calls = 0
    const call = (init: { method: string; headers?: Record<string, string> }) =>
      drive(
        clock,
        forRequest(init).execute(async ({ signal }) => {
          calls++
          await work(clock, 50, signal)
          return calls
        }),
      )
    await call({ method: 'POST' })
    expect(calls).toBe(1)
    await call({ method: 'GET' })
    expect(calls).toBe(3)
    await call({ method: 'POST', headers: { 'idempotency-key': 'k1' } })
    expect(calls).toBe(5)
  })

  it('composes: retry(hedge) retries a call whose hedges all failed, and attempts are counted per policy', async () => {
    const clock = steppingClock()
    const policy = compose(retry({ clock, delay: () => 0 }), hedge({ clock, delayMs: 10 }))
    const seen: number[] = []
    let calls = 0
    const result = await drive(
      clock,
      policy.execute(async ({ attempt }) => {
        seen.push(attempt)
        calls++
        if (calls <= 2) throw new Error('down')
        return 'ok'
      }),
    )
    expect(result).toBe('ok')
    expect(seen).toEqual([1, 2, 1])
  })
})

describe('hedge(): cancellation and leaks', () => {
  it("the caller's abort rejects at once with its reason and aborts every attempt", async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 10, maxHedgedAttempts: 2 })
    const caller = new AbortController()
    const signals: AbortSignal[] = []
    const p = policy.execute(async ({ signal }) => {
      signals.push(signal)
      await work(clock, 1000, signal)
    }, caller.signal)
    clock.manual.advance(25)
    expect(signals).toHaveLength(3)
    const reason = new Error('client went away')
    caller.abort(reason)
    await expect(p).rejects.toBe(reason)
    expect(signals.every((s) => s.reason === reason)).toBe(true)
    expect(clock.pending()).toBe(0)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
  })

  it('an already-aborted caller runs nothing', async () => {
    const policy = hedge()
    let calls = 0
    const reason = new Error('gone')
    await expect(policy.execute(async () => calls++, AbortSignal.abort(reason))).rejects.toBe(
      reason,
    )
    expect(calls).toBe(0)
  })

  it('1,000 concurrent calls on one long-lived signal: one listener at most, none left, no warning', async () => {
    const warnings: Error[] = []
    const onWarning = (w: Error) => warnings.push(w)
    process.on('warning', onWarning)
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 10, maxHedgedAttempts: 2 })
    const shutdown = new AbortController()
    const calls = Array.from({ length: 1000 }, (_, i) =>
      policy.execute(async ({ signal, attempt }) => {
        await work(clock, (i % 3) * 8 + attempt, signal)
        if (i % 5 === 0 && attempt === 1) throw new Error('flaky')
        return i
      }, shutdown.signal),
    )
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1)
    const all = drive(clock, Promise.all(calls))
    expect((await all).length).toBe(1000)
    expect(clock.pending()).toBe(0)
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0)
    await new Promise((r) => setImmediate(r))
    process.off('warning', onWarning)
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  it('an attempt that reads its signal only after losing finds it already aborted', async () => {
    const clock = steppingClock()
    let late: AbortSignal | undefined
    const result = await drive(
      clock,
      hedge({ clock, delayMs: 10 }).execute(async (ctx) => {
        await work(clock, ctx.attempt === 1 ? 100 : 5, new AbortController().signal)
        if (ctx.attempt === 1) late = ctx.signal
        return ctx.attempt
      }),
    )
    expect(result).toBe(2)
    await drive(clock, new Promise((r) => clock.setTimeout(() => r(undefined), 200)))
    expect(late?.aborted).toBe(true)
    expect(isHedgeLostError(late?.reason)).toBe(true)
  })

  it("a loser's late answer is discarded and its late error swallowed", async () => {
    const clock = steppingClock()
    const discarded: unknown[] = []
    const policy = hedge({ clock, delayMs: 10, discardResult: (r) => discarded.push(r) })
    // Attempts that ignore their signal and answer anyway.
    const result = await drive(
      clock,
      policy.execute(async ({ attempt }) => {
        await work(clock, attempt === 1 ? 100 : 20, new AbortController().signal)
        if (attempt === 1) return 'late'
        return 'winner'
      }),
    )
    expect(result).toBe('winner')
    await drive(clock, new Promise((r) => clock.setTimeout(() => r(undefined), 200)))
    expect(discarded).toEqual(['late'])
  })
})

describe('hedge(): percentile delay per key', () => {
  it('uses delayMs until minSamples, then the percentile of accepted latencies', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 500, percentile: 90, minSamples: 10 })
    const call = (ms: number) =>
      drive(
        clock,
        policy.execute(async ({ signal }) => {
          await work(clock, ms, signal)
          return ms
        }),
      )
    for (let ms = 1; ms <= 9; ms++) await call(ms * 10)
    expect(policy.delayMs()).toBe(500)
    await call(100)
    // Nearest rank: ceil(0.9 * 10) = 9th of 10, 10..100 → 90.
    expect(policy.delayMs()).toBe(90)
  })

  it('keys are tracked apart and bounded', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, delayMs: 500, percentile: 50, minSamples: 1, maxKeys: 2 })
    const call = (key: string, ms: number) =>
      drive(
        clock,
        policy.forKey(key).execute(async ({ signal }) => {
          await work(clock, ms, signal)
        }),
      )
    await call('a', 20)
    await call('b', 70)
    expect(policy.forKey('a').delayMs()).toBe(20)
    expect(policy.forKey('b').delayMs()).toBe(70)
    expect(policy.forKey('a')).toBe(policy.forKey('a'))
    expect(policy.delayMs()).toBe(500)
    await call('c', 5) // evicts 'a', the oldest
    expect(policy.forKey('a').delayMs()).toBe(500)
  })

  it('minDelayMs floors the percentile', async () => {
    const clock = steppingClock()
    const policy = hedge({ clock, percentile: 90, minSamples: 1, minDelayMs: 25 })
    await drive(
      clock,
      policy.execute(async () => 1),
    )
    expect(policy.delayMs()).toBe(25)
  })

  it('without percentile, forKey is the policy itself', () => {
    const policy = hedge()
    expect(policy.forKey('x')).toBe(policy)
    expect(policy.delayMs()).toBe(HEDGE_DEFAULTS.delayMs)
  })
})

describe('hedge(): options', () => {
  it('rejects nonsense', () => {
    expect(() => hedge({ maxHedgedAttempts: 11 })).toThrow(RangeError)
    expect(() => hedge({ maxHedgedAttempts: 1.5 })).toThrow(RangeError)
    expect(() => hedge({ percentile: 100 })).toThrow(RangeError)
    expect(() => hedge({ percentile: 0 })).toThrow(RangeError)
    expect(() => hedge({ delayMs: -1 })).toThrow(RangeError)
    expect(() => hedge({ delayMs: Number.NaN })).toThrow(RangeError)
    expect(() => hedge({ latencyWindow: 0 })).toThrow(RangeError)
  })

  it('is observable like any policy', () => {
    const policy = hedge({ name: 'users-api' })
    expect(policy.kind).toBe('hedge')
    expect(policy.name).toBe('users-api')
  })
})
