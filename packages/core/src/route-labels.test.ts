import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { boundedRoutes, OVERFLOW_ROUTE, UNMATCHED_ROUTE } from './index.ts'

describe('boundedRoutes', () => {
  it('keeps the first maxRoutes distinct routes; later new ones share OVERFLOW_ROUTE', () => {
    const label = boundedRoutes({ maxRoutes: 2 })
    expect(['/a', '/b', '/c', '/a', '/b', '/d'].map(label)).toEqual([
      '/a',
      '/b',
      OVERFLOW_ROUTE,
      '/a',
      '/b',
      OVERFLOW_ROUTE,
    ])
  })

  it('no route, an empty one and UNMATCHED_ROUTE are unmatched, and never use up the bound', () => {
    const label = boundedRoutes({ maxRoutes: 1 })
    expect([undefined, '', UNMATCHED_ROUTE].map(label)).toEqual([
      UNMATCHED_ROUTE,
      UNMATCHED_ROUTE,
      UNMATCHED_ROUTE,
    ])
    expect(label('/x')).toBe('/x')
  })

  it('a route longer than maxLength is OVERFLOW_ROUTE, and does not count', () => {
    const label = boundedRoutes({ maxRoutes: 1, maxLength: 8 })
    expect(label('/123456789')).toBe(OVERFLOW_ROUTE)
    expect(label('/1234567')).toBe('/1234567')
  })

  it('defaults: 1000 routes of up to 256 characters', () => {
    const label = boundedRoutes()
    expect(label(`/${'a'.repeat(255)}`)).toBe(`/${'a'.repeat(255)}`)
    expect(label(`/${'a'.repeat(256)}`)).toBe(OVERFLOW_ROUTE)
    for (let i = 1; i < 1000; i++) expect(label(`/r/${i}`)).toBe(`/r/${i}`)
    expect(label('/r/1000')).toBe(OVERFLOW_ROUTE)
  })

  it('refuses bounds that are not non-negative integers', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => boundedRoutes({ maxRoutes: bad })).toThrow(RangeError)
      expect(() => boundedRoutes({ maxLength: bad })).toThrow(RangeError)
    }
  })

  it('never yields more than maxRoutes + 2 distinct values, whatever it is fed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.array(fc.option(fc.string({ maxLength: 12 }), { nil: undefined }), { maxLength: 80 }),
        (maxRoutes, inputs) => {
          const label = boundedRoutes({ maxRoutes, maxLength: 8 })
          const out = new Set(inputs.map(label))
          expect(out.size).toBeLessThanOrEqual(maxRoutes + 2)
          for (const v of out)
            expect(v.length <= 8 || v === UNMATCHED_ROUTE || v === OVERFLOW_ROUTE).toBe(true)
        },
      ),
    )
  })
})
