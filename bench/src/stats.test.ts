import { describe, expect, it } from 'vitest'
import { ratioOf, round, summarize } from './stats.ts'

describe('summarize', () => {
  it('reports median, min and max, keeping the samples in order', () => {
    expect(summarize([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, samples: [3, 1, 2] })
    expect(summarize([4, 1, 3, 2])?.median).toBe(2.5)
  })

  it('ignores non-finite samples and returns undefined when nothing is left', () => {
    expect(summarize([Number.NaN, 5])?.median).toBe(5)
    expect(summarize([])).toBeUndefined()
    expect(summarize([Number.POSITIVE_INFINITY])).toBeUndefined()
  })
})

describe('ratioOf', () => {
  const s = (...samples: number[]) => summarize(samples)

  it('orients throughput as sturdy / other, paired round by round', () => {
    const r = ratioOf(s(100, 200, 300), s(50, 100, 300), 'higher')
    expect(r).toEqual({ value: 2, min: 1, max: 2, method: 'paired' })
  })

  it('orients time per op as other / sturdy, so > 1 still favours Sturdy', () => {
    expect(ratioOf(s(100), s(1700), 'lower')?.value).toBe(17)
  })

  it('keeps memory as plain sturdy / other', () => {
    expect(ratioOf(s(75), s(100), 'plain')?.value).toBe(0.75)
  })

  it('falls back to a ratio of medians when the rounds do not pair up', () => {
    expect(ratioOf(s(10, 20, 30), s(10), 'higher')).toEqual({
      value: 2,
      min: 2,
      max: 2,
      method: 'medians',
    })
  })

  it('has no ratio when a side was not measured', () => {
    expect(ratioOf(undefined, s(1), 'higher')).toBeUndefined()
    expect(ratioOf(s(1), undefined, 'higher')).toBeUndefined()
  })
})

describe('round', () => {
  it('keeps three significant digits and whole numbers whole', () => {
    expect(round(0.123456)).toBe(0.123)
    expect(round(12.3456)).toBe(12.3)
    expect(round(12345.6)).toBe(12346)
    expect(round(0)).toBe(0)
  })
})
