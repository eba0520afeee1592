import { describe, expect, it } from 'vitest'
import { notFailingAsDocumented } from '../lib/tsc.mjs'

const ts1479 = (line) => ({ line, code: 'TS1479', text: 'cannot be imported with require' })

describe('an unsupported setting fails as documented', () => {
  it('when every import line reports the documented error and nothing else', () => {
    expect(notFailingAsDocumented([ts1479(1), ts1479(2)], 2, 'TS1479')).toBeUndefined()
  })

  it('not when an import compiles (the setting would work after all: update the docs)', () => {
    expect(notFailingAsDocumented([ts1479(1)], 2, 'TS1479')).toBe(
      'line 2: expected TS1479, got none',
    )
    expect(notFailingAsDocumented(undefined, 1, 'TS1479')).toBe('line 1: expected TS1479, got none')
  })

  it('not when another error shows up (a user would see something else)', () => {
    const other = { line: 1, code: 'TS2307', text: "Cannot find module '@sturdy/x'" }
    expect(notFailingAsDocumented([ts1479(1), other], 1, 'TS1479')).toBe(
      "line 1: TS2307 Cannot find module '@sturdy/x'",
    )
    expect(notFailingAsDocumented([ts1479(1), ts1479(3)], 1, 'TS1479')).toBe(
      'line 3: TS1479 cannot be imported with require',
    )
  })
})
