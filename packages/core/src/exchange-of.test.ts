import { describe, expect, it } from 'vitest'
import type { Exchange } from './index.ts'
import { attachExchange, exchangeOf } from './index.ts'

describe('exchangeOf', () => {
  it('finds the exchange attached to a request object, and nothing elsewhere', () => {
    const carrier = {}
    const ex = { method: 'GET' } as Exchange
    expect(exchangeOf(carrier)).toBeUndefined()
    expect(attachExchange(carrier, ex)).toBe(ex)
    expect(exchangeOf(carrier)).toBe(ex)
    expect(exchangeOf({})).toBeUndefined()
  })

  it('is shared by copies of core (a registry symbol), and not enumerable data of the request', () => {
    const carrier = {}
    attachExchange(carrier, {} as Exchange)
    expect(Object.getOwnPropertySymbols(carrier).map(String)).toEqual([
      'Symbol(@sturdy/core exchange)',
    ])
    expect(JSON.stringify(carrier)).toBe('{}')
  })
})
