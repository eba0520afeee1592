import { manualClock } from '@sturdy/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  callBudget,
  formatGrpcTimeout,
  parseGrpcTimeout,
  parseTimeoutMs,
  readIncomingTimeout,
  stampDeadline,
} from './index.ts'

describe('parseGrpcTimeout()', () => {
  it('reads every unit', () => {
    expect(parseGrpcTimeout('2H')).toBe(7_200_000)
    expect(parseGrpcTimeout('3M')).toBe(180_000)
    expect(parseGrpcTimeout('4S')).toBe(4_000)
    expect(parseGrpcTimeout('5m')).toBe(5)
    expect(parseGrpcTimeout('6000u')).toBe(6)
    expect(parseGrpcTimeout('7000000n')).toBeCloseTo(7, 9)
    expect(parseGrpcTimeout('99999999H')).toBe(99_999_999 * 3_600_000)
    expect(parseGrpcTimeout('0m')).toBe(0)
  })

  it('returns undefined for anything malformed', () => {
    for (const bad of [
      undefined,
      null,
      '',
      '5',
      'm',
      '123456789m',
      '5 m',
      ' 5m',
      '5mm',
      '-5m',
      '+5m',
      '1.5S',
      '5s',
      '5h',
      '5x',
      '0x10m',
    ]) {
      expect([bad, parseGrpcTimeout(bad)]).toEqual([bad, undefined])
    }
  })

  it('property: never throws, and any accepted value is a finite number >= 0', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        const v = parseGrpcTimeout(s)
        expect(v === undefined || (Number.isFinite(v) && v >= 0)).toBe(true)
      }),
    )
  })
})

describe('formatGrpcTimeout()', () => {
  it('picks the finest unit that fits in 8 digits, rounding down', () => {
    expect(formatGrpcTimeout(50)).toBe('50000000n')
    expect(formatGrpcTimeout(4.35)).toBe('4350000n')
    expect(formatGrpcTimeout(1500)).toBe('1500000u')
    expect(formatGrpcTimeout(200_000)).toBe('200000m')
    expect(formatGrpcTimeout(200_000_000)).toBe('200000S')
    expect(formatGrpcTimeout(0)).toBe('0n')
    expect(formatGrpcTimeout(-3)).toBe('0n')
    expect(formatGrpcTimeout(Number.POSITIVE_INFINITY)).toBe('99999999H')
  })

  it('property: round-trips through parseGrpcTimeout, never over and at most one unit under', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.000_001, max: 1e12, noNaN: true }), (ms) => {
        const text = formatGrpcTimeout(ms)
        expect(text).toMatch(/^\d{1,8}[HMSmun]$/)
        const back = parseGrpcTimeout(text) as number
        const unit = parseGrpcTimeout(`1${text.at(-1)}`) as number
        expect(back).toBeLessThanOrEqual(ms * (1 + 1e-9))
        expect(ms - back).toBeLessThan(unit * (1 + 1e-9))
      }),
    )
  })
})

describe('parseTimeoutMs()', () => {
  it('accepts 1 to 10 ASCII digits and nothing else', () => {
    expect(parseTimeoutMs('0')).toBe(0)
    expect(parseTimeoutMs('1500')).toBe(1500)
    expect(parseTimeoutMs('9999999999')).toBe(9_999_999_999)
    for (const bad of [undefined, null, '', '12345678901', '1.5', '-1', '1e3', ' 1', '1,2', '٣']) {
      expect([bad, parseTimeoutMs(bad)]).toEqual([bad, undefined])
    }
  })
})

describe('readIncomingTimeout()', () => {
  const from =
    (h: Record<string, string>) =>
    (name: string): string | undefined =>
      h[name]

  it('takes the smallest valid header and skips malformed ones', () => {
    expect(readIncomingTimeout(from({}))).toBeUndefined()
    expect(
      readIncomingTimeout(
        from({ 'grpc-timeout': '2S', 'connect-timeout-ms': 'x', 'x-request-timeout-ms': '1500' }),
      ),
    ).toBe(1500)
    expect(readIncomingTimeout(from({ 'grpc-timeout': '20m', 'connect-timeout-ms': '30' }))).toBe(
      20,
    )
  })

  it('reads a Headers object or anything with header(), and honours the switches', () => {
    const headers = new Headers({ 'Grpc-Timeout': '20m', 'X-Deadline-Ms': '10' })
    expect(readIncomingTimeout(headers)).toBe(20)
    expect(readIncomingTimeout(headers, { header: 'x-deadline-ms' })).toBe(10)
    expect(readIncomingTimeout(headers, { grpc: false })).toBeUndefined()
    const exchangeLike = { header: (n: string) => (n === 'connect-timeout-ms' ? '7' : undefined) }
    expect(readIncomingTimeout(exchangeLike)).toBe(7)
  })
})

describe('stampDeadline()', () => {
  it('writes the plain header by default, whole ms, rounded down', () => {
    const headers = new Headers()
    expect(stampDeadline(headers, 1234.9)).toBe(1234)
    expect([...headers]).toEqual([['x-request-timeout-ms', '1234']])
  })

  it('writes grpc-timeout and connect-timeout-ms on request, into a plain record too', () => {
    const headers: Record<string, string> = {}
    stampDeadline(headers, 1500, { grpc: true, connect: true, header: 'x-budget' })
    expect(headers).toEqual({
      'x-budget': '1500',
      'connect-timeout-ms': '1500',
      'grpc-timeout': '1500000u',
    })
  })

  it('writes nothing for no deadline, and 0 for an exhausted one', () => {
    const headers = new Headers()
    expect(stampDeadline(headers, Number.POSITIVE_INFINITY, { grpc: true })).toBeUndefined()
    expect([...headers]).toEqual([])
    expect(stampDeadline(headers, -20, { grpc: true, header: false })).toBe(0)
    expect([...headers]).toEqual([['grpc-timeout', '0n']])
  })

  it('property: what it stamps, readIncomingTimeout reads back (within a ms, never more)', () => {
    // Up to ~27 h, where grpc-timeout still counts in ms; beyond, it counts in seconds.
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 99_999_999, noNaN: true }),
        fc.boolean(),
        fc.boolean(),
        (budget, grpc, connect) => {
          const headers = new Headers()
          stampDeadline(headers, budget, { grpc, connect })
          const back = readIncomingTimeout((n) => headers.get(n)) as number
          expect(back).toBeLessThanOrEqual(budget)
          expect(budget - back).toBeLessThan(1)
        },
      ),
    )
  })
})

describe('callBudget()', () => {
  it('is what is left minus the margin, capped, never negative; Infinity without a deadline', () => {
    const clock = manualClock(1000)
    expect(callBudget(1500, { clock })).toBe(495)
    expect(callBudget(1500, { clock, marginMs: 100 })).toBe(400)
    expect(callBudget(1500, { clock, maxMs: 200 })).toBe(200)
    expect(callBudget(1002, { clock })).toBe(0)
    expect(callBudget(900, { clock })).toBe(0)
    expect(callBudget(undefined, { clock })).toBe(Number.POSITIVE_INFINITY)
    expect(callBudget(undefined, { clock, maxMs: 300 })).toBe(300)
    clock.advance(400)
    expect(callBudget(1500, { clock })).toBe(95)
  })
})
