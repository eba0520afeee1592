import type { ClientInterceptor, ObservablePolicy } from '@sturdy/core'
import { describe, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import { createClient } from './index.ts'

describe('public types', () => {
  const client = createClient()

  it('json() is typed by its schema, or by the caller', () => {
    const Stock = z.object({ sku: z.string(), count: z.number() })
    expectTypeOf(client.json('http://x/', { schema: Stock })).toEqualTypeOf<
      Promise<{ sku: string; count: number }>
    >()
    expectTypeOf(client.json<{ a: 1 }>('http://x/')).toEqualTypeOf<Promise<{ a: 1 }>>()
    expectTypeOf(client.json('http://x/')).toEqualTypeOf<Promise<unknown>>()
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
