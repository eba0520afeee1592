import type { ObservablePolicy, Policy } from '@sturdy/core'
import { describe, expectTypeOf, it } from 'vitest'
import type { RetryPolicy } from './index.ts'
import { retry } from './index.ts'

describe('public types', () => {
  it('a RetryPolicy is a core Policy and an ObservablePolicy observers accept', () => {
    const policy = retry()
    expectTypeOf(policy).toMatchTypeOf<Policy>()
    expectTypeOf(policy).toMatchTypeOf<ObservablePolicy>()
    expectTypeOf(policy.withDeadline(1)).toEqualTypeOf<RetryPolicy>()
  })

  it('execute keeps the result type, and awaits PromiseLike results', () => {
    const policy = retry()
    expectTypeOf(policy.execute(() => 1)).toEqualTypeOf<Promise<number>>()
    expectTypeOf(policy.execute(async () => 'x')).toEqualTypeOf<Promise<string>>()
    expectTypeOf(policy.execute(({ signal, attempt }) => ({ signal, attempt }))).toEqualTypeOf<
      Promise<{ signal: AbortSignal; attempt: number }>
    >()
  })
})
