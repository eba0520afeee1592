import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { boundedLabel, OVERFLOW_VALUE } from './bounded-label.ts'

describe('boundedLabel', () => {
  it('keeps the first maxValues distinct values and folds the rest (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 4 })), fc.nat({ max: 8 }), (raws, max) => {
        const guard = boundedLabel({ maxValues: max })
        const out = raws.map(guard)
        const kept = [...new Set(raws.filter((r) => r !== ''))].slice(0, max)
        const produced = new Set(out.filter((v) => v !== '' && v !== OVERFLOW_VALUE))
        expect(produced.size).toBeLessThanOrEqual(max)
        raws.forEach((raw, i) => {
          if (raw === '') expect(out[i]).toBe('')
          else if (kept.includes(raw)) expect(out[i]).toBe(raw)
          else expect(out[i]).toBe(OVERFLOW_VALUE)
        })
      }),
    )
  })

  it('passes only allow-listed values, with a custom overflow value', () => {
    const guard = boundedLabel({ allow: ['gold', 'free'], overflow: 'other' })
    expect(['gold', 'free', 'GOLD', undefined, ''].map(guard)).toEqual([
      'gold',
      'free',
      'other',
      '',
      '',
    ])
    expect(() => boundedLabel({ maxValues: -1 })).toThrow(RangeError)
  })
})
