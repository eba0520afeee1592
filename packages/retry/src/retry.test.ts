import { getEventListeners } from 'node:events'
import type { CircuitState, PolicyContext, RetryEventMap } from '@sturdy/core'
import {
  BROKEN_CIRCUIT_CODE,
  compose,
  isTimeoutError,
  SturdyError,
  TimeoutError,
  ValidationError,
} from '@sturdy/core'
import { seededRandom } from '@sturdy/core/testing'
import { describe, expect, it } from 'vitest'
import type { RetryOptions, RetryPolicy } from './index.ts'
import {
  defaultRetryOn,
  doNotRetry,
  httpRetryableResult,
  isRetryBudgetExhaustedError,
  retry,
  retryBudget,
} from './index.ts'
import type { SteppingClock } from './testing.ts'
import { drive, steppingClock, work } from './testing.ts'

type Logged = { [K in keyof RetryEventMap]: [K, RetryEventMap[K]] }[keyof RetryEventMap]

/** A policy on a stepping clock with every event recorded. */
function setup(options: RetryOptions = {}): {
  clock: SteppingClock
  policy: RetryPolicy
  log: Logged[]
  run: <T>(fn: (ctx: PolicyContext) => Promise<T> | T, signal?: AbortSignal) => Promise<T>
} {
  const clock = steppingClock()
  const policy = retry({ clock, random: seededRandom(7), ...options })
  const log: Logged[] = []
  for (const name of ['attempt', 'attemptEnd', 'retry', 'giveUp', 'budgetExhausted'] as const) {
    policy.events.on(name, (e) => log.push([name, e] as Logged))
  }
  return { clock, policy, log, run: (fn, signal) => drive(clock, policy.execute(fn, signal)) }
}

const names = (log: Logged[]): string[] => log.map(([n]) => n)
const giveUp = (log: Logged[]): RetryEventMap['giveUp'] | undefined =>
  log.find((e): e is ['giveUp', RetryEventMap['giveUp']] => e[0] === 'giveUp')?.[1]
const retries = (log: Logged[]): RetryEventMap['retry'][] =>
  log.filter((e): e is ['retry', RetryEventMap['retry']] => e[0] === 'retry').map((e) => e[1])

const boom = (n: number): Error => new Error(`boom ${n}`)

describe('retry(): defaults', () => {
  it('makes 3 attempts in total, handing each { signal, attempt }, then rethrows the last error', async () => {
    const { run, log, clock } = setup()
    const caller = new AbortController()
    const seen: PolicyContext[] = []
    await expect(
      run((ctx) => {
        seen.push(ctx)
        throw boom(ctx.attempt)
      }, caller.signal),
    ).rejects.toThrow('boom 3')
    expect(seen.map((c) => c.attempt)).toEqual([1, 2, 3])
    expect(seen.every((c) => c.signal === caller.signal)).toBe(true)
    expect(names(log)).toEqual([
      'attempt',
      'attemptEnd',
      'retry',
      'attempt',
      'attemptEnd',
      'retry',
      'attempt',
      'attemptEnd',
      'giveUp',
    ])
    expect(giveUp(log)).toMatchObject({ name: 'retry', attempts: 3, reason: 'max-attempts' })
    expect(giveUp(log)?.error).toMatchObject({ message: 'boom 3' })
    expect(clock.pending()).toBe(0)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
  })

  it('waits full-jitter delays under 100 ms then 200 ms, on the clock, exactly as announced', async () => {
    const { run, log, clock } = setup()
    const starts: number[] = []
    await expect(
      run(() => {
        starts.push(clock.now())
        throw boom(0)
      }),
    ).rejects.toThrow()
    const [r1, r2] = retries(log)
    expect(r1?.delayMs).toBeGreaterThanOrEqual(0)
    expect(r1?.delayMs).toBeLessThan(100)
    expect(r2?.delayMs).toBeLessThan(200)
    expect(starts[1]! - starts[0]!).toBeCloseTo(r1!.delayMs, 6)
    expect(starts[2]! - starts[1]!).toBeCloseTo(r2!.delayMs, 6)
  })

  it('returns the first success without retrying, and reports per-attempt latency', async () => {
    const { run, log, clock } = setup()
    let calls = 0
    const value = await run(async ({ signal }) => {
      calls++
      if (calls === 1) {
        await work(clock, 30, signal)
        throw boom(1)
      }
      await work(clock, 12, signal)
      return 'ok'
    })
    expect(value).toBe('ok')
    const ends = log.filter((e) => e[0] === 'attemptEnd').map((e) => e[1])
    expect(ends).toEqual([
      { name: 'retry', attempt: 1, durationMs: 30, outcome: 'failure' },
      { name: 'retry', attempt: 2, durationMs: 12, outcome: 'success' },
    ])
    expect(giveUp(log)).toBeUndefined()
  })

  it('retries a TypeError (fetch network failures are TypeErrors), unlike p-retry', async () => {
    const { run } = setup()
    let calls = 0
    await expect(
      run(() => {
        calls++
        throw new TypeError('fetch failed')
      }),
    ).rejects.toThrow(TypeError)
    expect(calls).toBe(3)
  })

  it('rethrows thrown non-errors untouched (p-retry would wrap them in a TypeError)', async () => {
    const { run } = setup()
    await expect(
      run(() => {
        throw 'plain string'
      }),
    ).rejects.toBe('plain string')
  })

  it('does not retry Sturdy 4xx errors, but does retry 408/429-like and 5xx ones', async () => {
    const { run, log } = setup()
    let calls = 0
    await expect(
      run(() => {
        calls++
        throw new ValidationError('bad')
      }),
    ).rejects.toBeInstanceOf(ValidationError)
    expect(calls).toBe(1)
    expect(giveUp(log)?.reason).toBe('not-retryable')

    calls = 0
    await expect(
      run(() => {
        calls++
        throw new SturdyError('RATE', 'slow down', 429)
      }),
    ).rejects.toThrow('slow down')
    expect(calls).toBe(3)

    for (const status of [408, 500, 502, 503, 504]) {
      calls = 0
      await expect(
        run(() => {
          calls++
          throw new SturdyError('X', `status ${status}`, status)
        }),
      ).rejects.toThrow(`status ${status}`)
      expect(calls, `status ${status}`).toBe(3)
    }
  })

  it('defaultRetryOn: of the Sturdy 4xx statuses, exactly 408 and 429 are retried', () => {
    const retried: number[] = []
    for (let status = 400; status < 500; status++) {
      if (defaultRetryOn(new SturdyError('X', 'x', status))) retried.push(status)
    }
    expect(retried).toEqual([408, 429])
    expect(defaultRetryOn(new Error('network'))).toBe(true)
  })

  it('passes its own attempt number through compose(), ignoring an outer one', async () => {
    const clock = steppingClock()
    const inner = retry({ clock, maxAttempts: 2, baseDelayMs: 0 })
    const seen: number[] = []
    const p = compose(inner).execute(
      ({ attempt }) => {
        seen.push(attempt)
        if (attempt < 2) throw boom(attempt)
        return attempt
      },
      undefined,
      7,
    )
    expect(await drive(clock, p)).toBe(2)
    expect(seen).toEqual([1, 2])
  })
})

describe('retry(): what to retry', () => {
  it('stops at once on doNotRetry(e) and rethrows e itself', async () => {
    const { run, log } = setup()
    const original = new Error('card declined')
    let calls = 0
    await expect(
      run(() => {
        calls++
        throw doNotRetry(original)
      }),
    ).rejects.toBe(original)
    expect(calls).toBe(1)
    expect(giveUp(log)).toMatchObject({ reason: 'not-retryable', attempts: 1, error: original })
  })

  it('retryOn decides for errors and sees the attempt number', async () => {
    const seen: Array<[string, number]> = []
    const { run } = setup({
      maxAttempts: 5,
      retryOn: (e, attempt) => {
        seen.push([(e as Error).message, attempt])
        return attempt < 2
      },
    })
    await expect(run(({ attempt }) => Promise.reject(boom(attempt)))).rejects.toThrow('boom 2')
    expect(seen).toEqual([
      ['boom 1', 1],
      ['boom 2', 2],
    ])
  })

  it('retries results by predicate without throwing, and returns the last one when attempts run out', async () => {
    const { run, log } = setup({ retryOnResult: httpRetryableResult })
    const cancelled: number[] = []
    const responses = [503, 502, 429].map(
      (status, i) =>
        new Response(
          new ReadableStream({
            cancel: () => {
              cancelled.push(i)
            },
          }),
          { status },
        ),
    )
    const res = await run(({ attempt }) => responses[attempt - 1] as Response)
    expect(res).toBe(responses[2])
    expect(res.status).toBe(429)
    // The two responses we retried past had their bodies cancelled (connection freed);
    // the one returned to the caller is untouched.
    expect(cancelled).toEqual([0, 1])
    expect(res.bodyUsed).toBe(false)
    expect(giveUp(log)).toMatchObject({ reason: 'max-attempts', attempts: 3, error: responses[2] })
    expect(log.filter((e) => e[0] === 'attemptEnd').map((e) => e[1].outcome)).toEqual([
      'failure',
      'failure',
      'failure',
    ])
  })

  it('returns a good result after retryable ones', async () => {
    const { run } = setup({ retryOnResult: httpRetryableResult })
    const res = await run(
      ({ attempt }) => new Response('hi', { status: attempt === 1 ? 503 : 200 }),
    )
    expect(res.status).toBe(200)
    expect(await res.text()).toBe('hi')
  })

  it('a throwing retryOnResult fails the attempt like an error; a bad pushback value is ignored', async () => {
    const { run, log } = setup({
      maxAttempts: 2,
      jitter: 'none',
      retryOnResult: () => {
        throw new Error('predicate broke')
      },
      pushback: () => Number.NaN,
    })
    await expect(run(() => 'x')).rejects.toThrow('predicate broke')
    expect(retries(log).map((r) => r.delayMs)).toEqual([100])
  })

  it('consumeAttempt lets failures retry for free, but never more than maxFreeRetries', async () => {
    const { run, log } = setup({
      maxAttempts: 2,
      baseDelayMs: 0,
      consumeAttempt: (f) => f.kind === 'error' && (f.error as Error).message !== 'throttled',
      maxFreeRetries: 2,
    })
    let calls = 0
    await expect(
      run(() => {
        calls++
        throw new Error('throttled')
      }),
    ).rejects.toThrow('throttled')
    // 2 free retries, then the third throttle consumes the one real retry: 4 attempts.
    expect(calls).toBe(4)
    expect(giveUp(log)).toMatchObject({ attempts: 4, reason: 'max-attempts' })
  })
})

describe('retry(): delays', () => {
  it('uses a custom delay function, clamped to [0, maxDelayMs]; undefined falls back to the backoff', async () => {
    const asked: Array<{ attempt: number; retry: number; previousDelayMs: number }> = []
    const { run, log } = setup({
      maxAttempts: 5,
      maxDelayMs: 1000,
      jitter: 'none',
      delay: ({ attempt, retry, previousDelayMs }) => {
        asked.push({ attempt, retry, previousDelayMs })
        return [250, 99_999, -5, undefined][retry]
      },
    })
    await expect(run(() => Promise.reject(boom(0)))).rejects.toThrow()
    expect(retries(log).map((r) => r.delayMs)).toEqual([250, 1000, 0, 800])
    expect(asked.map((a) => a.attempt)).toEqual([1, 2, 3, 4])
    expect(asked.map((a) => a.previousDelayMs)).toEqual([0, 250, 1000, 0])
  })

  it('decorrelated jitter grows from the previous delay, within [base, cap]', async () => {
    const { run, log } = setup({
      maxAttempts: 8,
      jitter: 'decorrelated',
      baseDelayMs: 50,
      maxDelayMs: 2000,
    })
    await expect(run(() => Promise.reject(boom(0)))).rejects.toThrow()
    let previous = 50
    for (const { delayMs } of retries(log)) {
      expect(delayMs).toBeGreaterThanOrEqual(50)
      expect(delayMs).toBeLessThanOrEqual(Math.min(2000, previous * 3))
      previous = delayMs
    }
  })
})

describe('retry(): pushback', () => {
  const wallClock = (): number => Date.UTC(2026, 0, 1, 12, 0, 0)

  it('honours Retry-After seconds in place of the backoff', async () => {
    const { run, log } = setup({ retryOnResult: httpRetryableResult, wallClock })
    const res = await run(({ attempt }) =>
      attempt === 1
        ? new Response(null, { status: 503, headers: { 'Retry-After': '2' } })
        : new Response(null, { status: 200 }),
    )
    expect(res.status).toBe(200)
    expect(retries(log)[0]?.delayMs).toBe(2000)
  })

  it('honours a Retry-After HTTP-date measured on the wall clock', async () => {
    const { run, log } = setup({ retryOnResult: httpRetryableResult, wallClock })
    const at = new Date(wallClock() + 5000).toUTCString()
    await run(({ attempt }) =>
      attempt === 1
        ? new Response(null, { status: 429, headers: { 'retry-after': at } })
        : new Response(null, { status: 204 }),
    )
    expect(retries(log)[0]?.delayMs).toBe(5000)
  })

  it('gives up (reason pushback) when the server asks for longer than maxPushbackMs', async () => {
    const { run, log } = setup({ retryOnResult: httpRetryableResult, maxPushbackMs: 1000 })
    let calls = 0
    const res = await run(() => {
      calls++
      return new Response(null, { status: 503, headers: { 'retry-after': '60' } })
    })
    expect(res.status).toBe(503)
    expect(calls).toBe(1)
    expect(giveUp(log)?.reason).toBe('pushback')
  })

  it('treats a negative grpc-retry-pushback-ms as "do not retry", and a positive one as the delay', async () => {
    const grpcError = (ms: string): Error =>
      Object.assign(new Error('UNAVAILABLE'), {
        metadata: new Headers({ 'grpc-retry-pushback-ms': ms }),
      })
    const a = setup()
    let calls = 0
    await expect(
      a.run(() => {
        calls++
        throw grpcError('-1')
      }),
    ).rejects.toThrow('UNAVAILABLE')
    expect(calls).toBe(1)
    expect(giveUp(a.log)?.reason).toBe('pushback')

    const b = setup()
    await expect(b.run(() => Promise.reject(grpcError('750')))).rejects.toThrow()
    expect(retries(b.log).map((r) => r.delayMs)).toEqual([750, 750])
  })

  it('reads retryAfterMs from an error (an open breaker) and can be turned off', async () => {
    const open = Object.assign(new Error('open'), { retryAfterMs: 1234 })
    const a = setup({ maxAttempts: 2 })
    await expect(a.run(() => Promise.reject(open))).rejects.toBe(open)
    expect(retries(a.log)[0]?.delayMs).toBe(1234)
    const b = setup({ maxAttempts: 2, pushback: false, jitter: 'none' })
    await expect(b.run(() => Promise.reject(open))).rejects.toBe(open)
    expect(retries(b.log)[0]?.delayMs).toBe(100)
  })
})

describe('retry(): abort and deadlines', () => {
  it('an abort during the sleep rejects at once with the reason and releases timer and listener', async () => {
    const clock = steppingClock()
    const policy = retry({ clock, baseDelayMs: 60_000, jitter: 'none' })
    const caller = new AbortController()
    const reasons: string[] = []
    policy.events.on('giveUp', (e) => reasons.push(e.reason))
    const p = policy.execute(() => Promise.reject(boom(1)), caller.signal)
    await new Promise((r) => setImmediate(r))
    expect(clock.pending()).toBe(1) // sleeping
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(1)
    caller.abort(new Error('client went away'))
    await expect(p).rejects.toThrow('client went away')
    expect(clock.now()).toBe(0) // no time passed: the sleep did not run out
    expect(clock.pending()).toBe(0)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
    expect(reasons).toEqual(['aborted'])
  })

  it('an abort during an attempt ends the call with the reason; no retry follows', async () => {
    const { run, log, clock } = setup()
    const caller = new AbortController()
    let calls = 0
    const p = run(({ signal }) => {
      calls++
      clock.setTimeout(() => caller.abort(new Error('bye')), 5)
      return work(clock, 1_000, signal)
    }, caller.signal)
    await expect(p).rejects.toThrow('bye')
    expect(calls).toBe(1)
    expect(clock.now()).toBe(5)
    expect(giveUp(log)).toMatchObject({ attempts: 1, reason: 'aborted' })
    expect(retries(log)).toHaveLength(0)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
  })

  it('an already-aborted signal runs nothing', async () => {
    const { run, log } = setup()
    let calls = 0
    const reason = new Error('gone')
    await expect(
      run(() => {
        calls++
      }, AbortSignal.abort(reason)),
    ).rejects.toBe(reason)
    expect(calls).toBe(0)
    expect(giveUp(log)).toMatchObject({ attempts: 0, reason: 'aborted' })
  })

  it('never sleeps past the deadline: gives up instead of waiting for nothing', async () => {
    const { run, log, clock } = setup({
      deadline: 150,
      jitter: 'none',
      baseDelayMs: 100,
      maxAttempts: 10,
    })
    const starts: number[] = []
    await expect(
      run(async ({ signal }) => {
        starts.push(clock.now())
        await work(clock, 10, signal)
        throw boom(0)
      }),
    ).rejects.toThrow('boom 0')
    // t=0 attempt 1 → 10; sleep 100 → 110 attempt 2 → 120; a 200 ms sleep would end past 150.
    expect(starts).toEqual([0, 110])
    expect(clock.now()).toBe(120)
    expect(giveUp(log)).toMatchObject({ reason: 'deadline', attempts: 2 })
    expect(clock.pending()).toBe(0)
  })

  it('a retry that would start exactly at the deadline is not taken (the sleep is not even started)', async () => {
    const { run, log, clock } = setup({ deadline: 110, jitter: 'none', baseDelayMs: 100 })
    const starts: number[] = []
    await expect(
      run(async ({ signal }) => {
        starts.push(clock.now())
        await work(clock, 10, signal)
        throw boom(0)
      }),
    ).rejects.toThrow('boom 0')
    // Attempt 1 ends at 10; 10 + 100 ms of backoff lands on the deadline itself (110).
    expect(starts).toEqual([0])
    expect(clock.now()).toBe(10)
    expect(retries(log)).toHaveLength(0)
    expect(giveUp(log)).toMatchObject({ reason: 'deadline', attempts: 1 })
    expect(clock.pending()).toBe(0)
  })

  it('a retry that ends 1 ms before the deadline is taken', async () => {
    const { run, log, clock } = setup({ deadline: 111, jitter: 'none', baseDelayMs: 100 })
    const starts: number[] = []
    await expect(
      run(async ({ signal }) => {
        starts.push(clock.now())
        await work(clock, 10, signal)
        throw boom(0)
      }),
    ).rejects.toThrow()
    expect(starts).toEqual([0, 110])
    expect(giveUp(log)?.reason).toBe('deadline')
  })

  it('with minAttemptMs, a retry whose attempt window ends exactly at the deadline is not taken', async () => {
    const { run, log, clock } = setup({
      deadline: 160,
      minAttemptMs: 50,
      jitter: 'none',
      baseDelayMs: 100,
    })
    const starts: number[] = []
    await expect(
      run(async ({ signal }) => {
        starts.push(clock.now())
        await work(clock, 10, signal)
        throw boom(0)
      }),
    ).rejects.toThrow()
    // 10 (end of attempt 1) + 100 (sleep) + 50 (minAttemptMs) = 160 = the deadline.
    expect(starts).toEqual([0])
    expect(giveUp(log)).toMatchObject({ reason: 'deadline', attempts: 1 })
  })

  it('refuses the first attempt when minAttemptMs reaches exactly to the deadline', async () => {
    const { run, log } = setup({ deadline: 100, minAttemptMs: 100 })
    let calls = 0
    const error = await run(() => {
      calls++
    }).catch((e: unknown) => e)
    expect(isTimeoutError(error)).toBe(true)
    expect(calls).toBe(0)
    expect(giveUp(log)).toMatchObject({ attempts: 0, reason: 'deadline' })
  })

  it('does not start an attempt that cannot finish: minAttemptMs', async () => {
    const { run, log, clock } = setup({
      deadline: 300,
      minAttemptMs: 100,
      jitter: 'none',
      baseDelayMs: 100,
    })
    const starts: number[] = []
    await expect(
      run(async ({ signal }) => {
        starts.push(clock.now())
        await work(clock, 50, signal)
        throw boom(0)
      }),
    ).rejects.toThrow()
    // attempt 2 would start at 150 and could end by 250 < 300; attempt 3 would start at 400.
    expect(starts).toEqual([0, 150])
    expect(giveUp(log)?.reason).toBe('deadline')
  })

  it('refuses even the first attempt when the deadline leaves less than minAttemptMs', async () => {
    const { run, log } = setup({ deadline: 50, minAttemptMs: 100 })
    let calls = 0
    const error = await run(() => {
      calls++
    }).catch((e: unknown) => e)
    expect(isTimeoutError(error)).toBe(true)
    expect(calls).toBe(0)
    expect(giveUp(log)).toMatchObject({ attempts: 0, reason: 'deadline' })
  })

  it('aborts the running attempt at the deadline with a TimeoutError', async () => {
    const { run, log, clock } = setup({ maxElapsedMs: 500 })
    const error = await run(({ signal }) => work(clock, 10_000, signal)).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(clock.now()).toBe(500)
    expect(giveUp(log)).toMatchObject({ reason: 'deadline', attempts: 1 })
    expect(clock.pending()).toBe(0)
  })

  it('withDeadline() bounds one call by a per-request deadline and keeps the events', async () => {
    const { policy, log, clock } = setup({ jitter: 'none', baseDelayMs: 100 })
    const bounded = policy.withDeadline(clock.now() + 50)
    expect(bounded.events).toBe(policy.events)
    const { withDeadline } = policy // works unbound too
    expect(withDeadline(undefined)).toBe(policy)
    let calls = 0
    await expect(
      drive(
        clock,
        bounded.execute(() => {
          calls++
          throw boom(0)
        }),
      ),
    ).rejects.toThrow()
    expect(calls).toBe(1)
    expect(giveUp(log)?.reason).toBe('deadline')
  })
})

describe('retry(): in front of a circuit breaker', () => {
  /** A breaker's rejection as any copy of @sturdy/breaker throws it (recognised through core). */
  const rejection = (state: CircuitState, retryAfterMs: number): SturdyError =>
    Object.assign(new SturdyError(BROKEN_CIRCUIT_CODE, `Circuit "db" is ${state}`, 503), {
      state,
      retryAfterMs,
    })

  it('fails at once on an open circuit instead of sleeping out its open period (giveUp reason circuit-open)', async () => {
    const { run, log, clock } = setup({ maxAttempts: 5 })
    const open = rejection('open', 10_000)
    let calls = 0
    await expect(
      run(() => {
        calls++
        throw open
      }),
    ).rejects.toBe(open)
    expect(calls).toBe(1)
    expect(clock.now()).toBe(0) // no sleep at all
    expect(retries(log)).toHaveLength(0)
    expect(giveUp(log)).toMatchObject({ reason: 'circuit-open', attempts: 1, error: open })
    expect(clock.pending()).toBe(0)
  })

  it('fails at once on an isolated circuit, and ignores maxPushbackMs for rejections', async () => {
    const { run, log } = setup({ maxAttempts: 5, maxPushbackMs: Number.POSITIVE_INFINITY })
    const isolated = rejection('isolated', 60_000)
    await expect(run(() => Promise.reject(isolated))).rejects.toBe(isolated)
    expect(giveUp(log)?.reason).toBe('circuit-open')
  })

  it('retries a rejection the backoff outwaits anyway, after the backoff (not the hint)', async () => {
    const { run, log, clock } = setup({ jitter: 'none', baseDelayMs: 100 })
    const starts: number[] = []
    const value = await run(({ attempt }) => {
      starts.push(clock.now())
      if (attempt === 1) throw rejection('half-open', 100)
      return 'admitted'
    })
    expect(value).toBe('admitted')
    expect(starts).toEqual([0, 100])
    expect(retries(log).map((r) => r.delayMs)).toEqual([100])
  })

  it('a rejection whose wait exceeds the backoff by 1 ms fails fast', async () => {
    const { run, log } = setup({ jitter: 'none', baseDelayMs: 100 })
    await expect(run(() => Promise.reject(rejection('half-open', 101)))).rejects.toThrow()
    expect(giveUp(log)?.reason).toBe('circuit-open')
  })

  it('still never sleeps past the deadline for a rejection the backoff would outwait', async () => {
    const { run, log } = setup({ jitter: 'none', baseDelayMs: 100, deadline: 50 })
    await expect(run(() => Promise.reject(rejection('half-open', 10)))).rejects.toThrow()
    expect(giveUp(log)?.reason).toBe('deadline')
  })

  it('recognises the rejection by its code, not by a retryAfterMs property: other errors keep their pushback', async () => {
    const { run, log } = setup({ maxAttempts: 2 })
    const limited = Object.assign(new SturdyError('RATE_LIMITED', 'slow down', 429), {
      retryAfterMs: 5_000,
    })
    await expect(run(() => Promise.reject(limited))).rejects.toBe(limited)
    expect(retries(log).map((r) => r.delayMs)).toEqual([5_000])
  })
})

describe('retry(): budget', () => {
  it('fails fast with RetryBudgetExhaustedError once the shared budget is spent, and counts it', async () => {
    const clock = steppingClock()
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000, clock })
    // Floor: 0.1/s × 10 s = 1 retry per window, shared by both policies.
    const a = retry({ clock, budget, name: 'a', baseDelayMs: 0 })
    const b = retry({ clock, budget, name: 'b', baseDelayMs: 0 })
    const exhausted: RetryEventMap['budgetExhausted'][] = []
    const gaveUp: string[] = []
    b.events.on('budgetExhausted', (e) => exhausted.push(e))
    b.events.on('giveUp', (e) => gaveUp.push(e.reason))
    let calls = 0
    const failing = (): Promise<never> => {
      calls++
      return Promise.reject(boom(calls))
    }
    // a: attempt 1 fails, the one retry in the window is granted, attempt 2 fails, refused.
    const first = await drive(clock, a.execute(failing)).catch((e: unknown) => e)
    expect(isRetryBudgetExhaustedError(first)).toBe(true)
    expect((first as Error).cause).toMatchObject({ message: 'boom 2' })
    // b shares the budget: refused after its first attempt.
    const error = await drive(clock, b.execute(failing)).catch((e: unknown) => e)
    expect(isRetryBudgetExhaustedError(error)).toBe(true)
    expect((error as { code: string }).code).toBe('RETRY_BUDGET_EXHAUSTED')
    expect((error as { status: number }).status).toBe(503)
    expect((error as Error).cause).toMatchObject({ message: 'boom 3' })
    expect(exhausted).toEqual([{ name: 'b', attempt: 1 }])
    expect(gaveUp).toEqual(['budget-exhausted'])
    expect(calls).toBe(3)
  })

  it('returns the retryable result when the budget refuses a retry', async () => {
    const clock = steppingClock()
    const budget = retryBudget({ ratio: 0, minRetriesPerSecond: 0, clock })
    const policy = retry({ clock, budget, retryOnResult: httpRetryableResult })
    const res = await drive(
      clock,
      policy.execute(() => new Response(null, { status: 503 })),
    )
    expect(res.status).toBe(503)
  })
})

describe('retry(): options are validated', () => {
  it('rejects unsafe values', () => {
    expect(() => retry({ maxAttempts: 0 })).toThrow(RangeError)
    expect(() => retry({ maxAttempts: 1.5 })).toThrow(RangeError)
    expect(() => retry({ maxFreeRetries: -1 })).toThrow(RangeError)
    expect(() => retry({ minAttemptMs: -1 })).toThrow(RangeError)
    expect(() => retry({ maxPushbackMs: Number.NaN })).toThrow(RangeError)
    expect(() => retry({ maxDelayMs: Number.POSITIVE_INFINITY })).toThrow(RangeError)
    expect(() => retry({ deadline: Number.NaN })).toThrow(RangeError)
    expect(() => retry().withDeadline(Number.NaN)).toThrow(RangeError)
    expect(retry({ maxAttempts: Number.POSITIVE_INFINITY, deadline: 10 }).kind).toBe('retry')
  })
})
