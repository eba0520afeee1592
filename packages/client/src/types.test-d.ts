import type { ClientInterceptor, ObservablePolicy } from '@sturdy/core'
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { createClient } from './index.ts'

describe('public types', () => {
  const client = createClient()

  it('json() is typed by its schema, or by the caller', () => {
    const Stock = z.object({ sku: z.string(), count: z.number() })
    // Functions, never called: a call would really go out (to a host that does not
    // exist) and reject unhandled after the test.
    const withSchema = () => client.json('http://x/', { schema: Stock })
    const byCaller = () => client.json<{ a: 1 }>('http://x/')
    const untyped = () => client.json('http://x/')
    expectTypeOf(withSchema).returns.toEqualTypeOf<Promise<{ sku: string; count: number }>>()
    expectTypeOf(byCaller).returns.toEqualTypeOf<Promise<{ a: 1 }>>()
    expectTypeOf(untyped).returns.toEqualTypeOf<Promise<unknown>>()
  })

  it('fetch() is fetch-shaped', () => {
    expectTypeOf(client.fetch).toMatchTypeOf<
      (input: string | URL | Request, init?: RequestInit) => Promise<Response>
    >()
  })

  it('its policies are observable, and takes core interceptors', () => {
    expectTypeOf(client.policies).toMatchTypeOf<readonly ObservablePolicy[]>()
    const noop: ClientInterceptor = (_request, next) => next()
    createClient({ interceptors: [noop] })
  })
})
