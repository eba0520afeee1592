import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isSafeRequestId } from './index.ts'

const SAFE = 'ABCXYZabcxyz0189._:+=/-'

describe('isSafeRequestId', () => {
  it('accepts 1..max characters from the safe set', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...SAFE), minLength: 1, maxLength: 128 }),
        (id) => isSafeRequestId(id),
      ),
    )
  })

  it('an accepted id needs no JSON escaping and carries no control or quote characters', () => {
    // Mostly safe characters with the odd arbitrary one, so both verdicts occur often.
    const unit = fc.oneof(
      { arbitrary: fc.constantFrom(...SAFE), weight: 15 },
      { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 1 },
    )
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), (id) => {
        if (!isSafeRequestId(id)) return true
        return JSON.stringify(id) === `"${id}"` && !/[\s"'<>\\`]/.test(id)
      }),
      { numRuns: 2000 },
    )
  })

  it('rejects any id with one character outside the set, wherever it is', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...SAFE), maxLength: 20 }),
        fc.string({ unit: fc.constantFrom(...SAFE), maxLength: 20 }),
        fc.constantFrom(
          ' ',
          '\n',
          '\r',
          '\t',
          '"',
          "'",
          '\\',
          '<',
          '>',
          '{',
          '%',
          '\u0000',
          'é',
          '\u2028',
        ),
        (a, b, bad) => !isSafeRequestId(a + bad + b),
      ),
    )
  })

  it('rejects empty, missing and over-long ids; the limit is configurable', () => {
    expect(isSafeRequestId(undefined)).toBe(false)
    expect(isSafeRequestId('')).toBe(false)
    expect(isSafeRequestId('a'.repeat(128))).toBe(true)
    expect(isSafeRequestId('a'.repeat(129))).toBe(false)
    expect(isSafeRequestId('a'.repeat(129), 200)).toBe(true)
    expect(isSafeRequestId('abcd', 3)).toBe(false)
  })
})
