import { describe, expect, it } from 'vitest'
import { estimateSeconds } from './cli.ts'
import { parseConfig } from './config.ts'

describe('estimateSeconds', () => {
  it('keeps the default suite within the ~10 minute budget on 2 cores', () => {
    const full = estimateSeconds(parseConfig([]))
    expect(full).toBeGreaterThan(300)
    expect(full).toBeLessThanOrEqual(540) // leaves room for start-up under 10 min
  })

  it('counts only the parts asked for', () => {
    const all = estimateSeconds(parseConfig([]))
    const http = estimateSeconds(parseConfig(['http']))
    expect(http).toBeGreaterThan(0)
    expect(http).toBeLessThan(all)
    expect(estimateSeconds(parseConfig(['--smoke']))).toBeLessThan(all / 3)
  })
})
