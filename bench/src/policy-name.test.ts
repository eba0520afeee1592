import { describe, expect, it } from 'vitest'
import { parsePolicyName } from './parts/policies.ts'

describe('parsePolicyName()', () => {
  it('reads a policy contender and its path, success by default', () => {
    expect(parsePolicyName('policy:sturdy-composed')).toEqual({
      contender: 'sturdy-composed',
      path: 'success',
    })
    expect(parsePolicyName('policy:sturdy-breaker:open')).toEqual({
      contender: 'sturdy-breaker',
      path: 'open',
    })
  })

  it('leaves HTTP names alone', () => {
    expect(parsePolicyName('sturdy-hono-stack')).toBeUndefined()
  })

  it('refuses an unknown path, or a contender its path does not run', () => {
    expect(() => parsePolicyName('policy:sturdy-composed:sideways')).toThrow(/unknown policy path/)
    expect(() => parsePolicyName('policy:nobody')).toThrow(/unknown policy contender/)
    // The open path runs the three breakers only.
    expect(() => parsePolicyName('policy:sturdy-composed:open')).toThrow(/on the open path/)
  })
})
