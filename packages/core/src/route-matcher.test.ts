import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { routeMatcher } from './index.ts'

const table = (routes: Record<string, string>) => routeMatcher(Object.entries(routes))

describe('routeMatcher syntax', () => {
  it('matches static text, :params, {regex} params, optional and wildcard segments', () => {
    const m = table({
      '/health': 'health',
      '/users/:id': 'user',
      '/orders/:id{[0-9]+}': 'order',
      '/posts/:slug?': 'posts',
      '/files/*': 'files',
      '/a/*/c': 'a-any-c',
    })
    expect(m.match('GET', '/health')).toBe('health')
    expect(m.match('GET', '/healthz')).toBeUndefined()
    expect(m.match('GET', '/users/42')).toBe('user')
    expect(m.match('GET', '/users')).toBeUndefined()
    expect(m.match('GET', '/users/42/orders')).toBeUndefined()
    expect(m.match('GET', '/orders/17')).toBe('order')
    expect(m.match('GET', '/orders/x17')).toBeUndefined()
    expect(m.match('GET', '/posts')).toBe('posts')
    expect(m.match('GET', '/posts/hello')).toBe('posts')
    expect(m.match('GET', '/posts/hello/more')).toBeUndefined()
    expect(m.match('GET', '/files')).toBe('files')
    expect(m.match('GET', '/files/a/b.txt')).toBe('files')
    expect(m.match('GET', '/a/b/c')).toBe('a-any-c')
    expect(m.match('GET', '/a/c')).toBeUndefined()
  })

  it('ignores empty segments: a trailing slash and doubled slashes', () => {
    const m = table({ '/users/:id': 'user', '/': 'root' })
    expect(m.match('GET', '/users/42/')).toBe('user')
    expect(m.match('GET', '//users//42')).toBe('user')
    expect(m.match('GET', '/')).toBe('root')
    expect(m.match('GET', '')).toBe('root')
  })

  it('a method names one method (any case); * or none means any; a lone * is every path', () => {
    const m = table({
      'post /upload': 'post',
      '* /any': 'any',
      '/bare': 'bare',
      'GET *': 'get-all',
    })
    expect(m.match('POST', '/upload')).toBe('post')
    expect(m.match('post', '/upload')).toBe('post')
    expect(m.match('PUT', '/upload')).toBeUndefined()
    expect(m.match('DELETE', '/any')).toBe('any')
    expect(m.match('PATCH', '/bare')).toBe('bare')
    expect(m.match('GET', '/whatever/deep')).toBe('get-all')
    expect(m.match('HEAD', '/whatever')).toBeUndefined()
  })

  it('named wildcards (Express 5 *splat) are wildcards', () => {
    expect(table({ '/static/*path': 's' }).match('GET', '/static/a/b')).toBe('s')
  })

  it('refuses malformed patterns with a RangeError that names the pattern', () => {
    for (const bad of ['users/:id', 'GET users', 'GE(T /x', '/a/:id?/b', '/x/:id{[}']) {
      expect(() => routeMatcher([[bad, 1]])).toThrow(RangeError)
      expect(() => routeMatcher([[bad, 1]])).toThrow(JSON.stringify(bad))
    }
  })
})

describe('routeMatcher precedence', () => {
  it('the most specific path wins, whatever the order the patterns were added in', () => {
    const patterns: Array<[string, string]> = [
      ['/users/*', 'wild'],
      ['/users/:id', 'param'],
      ['/users/:id{[0-9]+}', 'regex'],
      ['/users/me', 'static'],
      ['/users/:id?', 'optional'],
    ]
    for (const order of [patterns, [...patterns].reverse()]) {
      const m = routeMatcher(order)
      expect(m.match('GET', '/users/me')).toBe('static')
      expect(m.match('GET', '/users/7')).toBe('regex')
      expect(m.match('GET', '/users/bob')).toBe('param')
      expect(m.match('GET', '/users')).toBe('optional')
      expect(m.match('GET', '/users/7/x')).toBe('wild')
    }
  })

  it('segments compare from the left: a static prefix beats a param, a path that ends beats a wildcard', () => {
    const m = table({
      '/:kind/new': 'kind-new',
      '/users/:id': 'user',
      '/files/*': 'wild',
      '/files': 'exact',
    })
    expect(m.match('GET', '/users/new')).toBe('user')
    expect(m.match('GET', '/files')).toBe('exact')
  })

  it('for one path shape, a named method beats any method; then the first added wins', () => {
    const m = routeMatcher<string>([
      ['/x/:id', 'any-first'],
      ['GET /x/:id', 'get'],
      ['* /x/:other', 'any-second'],
      ['GET /x/:other', 'get-second'],
    ])
    expect(m.match('GET', '/x/1')).toBe('get')
    expect(m.match('PUT', '/x/1')).toBe('any-first')
  })

  it('a pattern added twice keeps its first value', () => {
    const m = routeMatcher<number>([
      ['GET /a', 1],
      ['get /a', 2],
    ])
    expect(m.match('GET', '/a')).toBe(1)
    expect(m.size).toBe(1)
  })
})

describe('routeMatcher bounds and cache', () => {
  it('add() refuses patterns past maxRoutes', () => {
    const m = routeMatcher<number>([], { maxRoutes: 2 })
    expect(m.add('/a', 1)).toBe(true)
    expect(m.add('/b', 2)).toBe(true)
    expect(m.add('/a', 9)).toBe(true) // already there
    expect(m.add('/c', 3)).toBe(false)
    expect(m.size).toBe(2)
    expect(m.match('GET', '/c')).toBeUndefined()
  })

  it('a cached answer is forgotten when a better pattern is added', () => {
    const m = routeMatcher<string>([['/users/*', 'wild']], { cacheSize: 10 })
    expect(m.match('GET', '/users/me')).toBe('wild')
    expect(m.match('GET', '/users/me')).toBe('wild')
    m.add('/users/me', 'me')
    expect(m.match('GET', '/users/me')).toBe('me')
  })

  it('with a cache, answers equal those without one, for any request sequence (property)', () => {
    const patterns = ['/users/:id', 'GET /users/me', '/files/*', 'POST /files/:name', '/a/:b?']
    const paths = ['/users/me', '/users/1', '/files', '/files/x', '/a', '/a/b', '/nope', '/a/b/c']
    const methods = ['GET', 'POST', 'get']
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...methods), fc.constantFrom(...paths)), {
          maxLength: 60,
        }),
        fc.integer({ min: 1, max: 4 }),
        (requests, cacheSize) => {
          const plain = routeMatcher(patterns.map((p) => [p, p] as const))
          const cached = routeMatcher(
            patterns.map((p) => [p, p] as const),
            { cacheSize },
          )
          for (const [method, path] of requests) {
            expect(cached.match(method, path)).toBe(plain.match(method, path))
          }
        },
      ),
    )
  })
})
