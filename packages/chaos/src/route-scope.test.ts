import { describe, expect, it } from 'vitest'
import { routeScope } from './route-scope.ts'

describe('routeScope', () => {
  it('matches method + template, case-insensitive methods', () => {
    const scope = routeScope(['GET /users/:id', 'post /orders'])
    expect(scope?.('GET', '/users/42')).toBe(true)
    expect(scope?.('get', '/users/42')).toBe(true)
    expect(scope?.('PUT', '/users/42')).toBe(false)
    expect(scope?.('GET', '/users/42/orders')).toBe(false)
    expect(scope?.('POST', '/orders')).toBe(true)
    expect(scope?.('POST', '/orders/1')).toBe(false)
  })

  it('a path alone is any method; * is everything; a trailing /* matches the prefix too', () => {
    const files = routeScope(['/files/*'])
    expect(files?.('DELETE', '/files')).toBe(true)
    expect(files?.('GET', '/files/a/b.txt')).toBe(true)
    expect(files?.('GET', '/filesystem')).toBe(false)
    expect(routeScope(['*'])).toBeUndefined()
    expect(routeScope(['GET /health', '*'])).toBeUndefined()
    expect(routeScope(undefined)).toBeUndefined()
    const anyPath = routeScope(['POST *'])
    expect(anyPath?.('POST', '/anything/at/all')).toBe(true)
    expect(anyPath?.('GET', '/anything')).toBe(false)
    expect(routeScope(['/'])?.('GET', '/')).toBe(true)
  })

  it('templates are literal apart from :param and *', () => {
    const scope = routeScope(['GET /v1.0/(x)/:id'])
    expect(scope?.('GET', '/v1.0/(x)/3')).toBe(true)
    expect(scope?.('GET', '/v1x0/(x)/3')).toBe(false)
  })

  it('no patterns: nothing is in scope', () => {
    expect(routeScope([])?.('GET', '/')).toBe(false)
  })

  it('rejects malformed patterns with a clear error', () => {
    expect(() => routeScope(['users/:id'])).toThrow(/must start with/)
    expect(() => routeScope(['G(T /a'])).toThrow(RangeError)
    expect(() => routeScope(['GET /a/:id{[}'])).toThrow(RangeError)
    expect(() => routeScope([42 as never])).toThrow(TypeError)
    expect(() => routeScope('GET /a' as never)).toThrow(TypeError)
  })
})
