import { describe, expect, it } from 'vitest'
import { DEFAULTS, PARTS, parseConfig, profileOf } from './config.ts'

describe('parseConfig', () => {
  it('runs every part with the defaults when given nothing', () => {
    const c = parseConfig([])
    expect(c.parts).toEqual(PARTS)
    expect(profileOf(c)).toBe('full')
  })

  it('takes parts as positional arguments and flags in both spellings', () => {
    const c = parseConfig([
      'http',
      'policies',
      '--rounds',
      '5',
      '--duration=2',
      '--only',
      'hono,express',
    ])
    expect(c.parts).toEqual(['http', 'policies'])
    expect(c.rounds).toBe(5)
    expect(c.durationSec).toBe(2)
    expect(c.only).toEqual(['hono', 'express'])
    expect(profileOf(c)).toBe('reduced')
  })

  it('reads the environment, and flags win over it', () => {
    const env = { BENCH_ROUNDS: '7', BENCH_RUNTIMES: 'node20', BENCH_README: 'false' }
    expect(parseConfig([], env)).toMatchObject({ rounds: 7, runtimes: ['node20'], readme: false })
    expect(parseConfig(['--rounds', '2'], env).rounds).toBe(2)
  })

  it('has a smoke profile that shortens everything', () => {
    const c = parseConfig(['--smoke'])
    expect(c.rounds).toBe(1)
    expect(c.soakRequests).toBeLessThan(DEFAULTS.soakRequests)
    expect(profileOf(c)).toBe('reduced')
  })

  it("defaults to pino's synchronous destination and accepts async", () => {
    expect(parseConfig([]).logMode).toBe('default')
    expect(parseConfig(['--log-mode', 'sync']).logMode).toBe('sync')
    expect(parseConfig(['--log-mode', 'buffered']).logMode).toBe('buffered')
    expect(parseConfig(['--log-mode', 'async']).logMode).toBe('buffered')
    expect(() => parseConfig(['--log-mode', 'fast'])).toThrow(/default, sync or buffered/)
  })

  it('accepts `none` for the attribution runtimes', () => {
    expect(parseConfig(['--attribution', 'none']).attributionRuntimes).toEqual([])
  })

  it('rejects unknown parts, flags and bad numbers', () => {
    expect(() => parseConfig(['htp'])).toThrow(/unknown part/)
    expect(() => parseConfig(['--fast'])).toThrow(/unknown flag/)
    expect(() => parseConfig(['--rounds', '0'])).toThrow(/positive/)
    expect(() => parseConfig(['--rounds', '1.5'])).toThrow(/integer/)
    expect(() => parseConfig(['--runtimes', 'deno'])).toThrow(/unknown runtime/)
  })
})
