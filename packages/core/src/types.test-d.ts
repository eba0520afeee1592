// Type tests: vitest checks them with tsc (typecheck.include in vitest.config.ts).
import { describe, expectTypeOf, it } from 'vitest'
import type { CombinedVariables, Middleware, NoVariables, VariablesOf } from './index.ts'

type WithSignal = Middleware<{ signal: AbortSignal }>
type WithLog = Middleware<{ requestId: string }>

describe('CombinedVariables', () => {
  it('intersects the values of every middleware in the list', () => {
    type V = CombinedVariables<[WithSignal, WithLog, Middleware]>
    expectTypeOf<keyof V>().toEqualTypeOf<'signal' | 'requestId'>()
    expectTypeOf<V['signal']>().toEqualTypeOf<AbortSignal>()
    expectTypeOf<V['requestId']>().toEqualTypeOf<string>()
  })

  it('works on readonly tuples and arrays of one type', () => {
    expectTypeOf<keyof CombinedVariables<readonly [WithSignal]>>().toEqualTypeOf<'signal'>()
    expectTypeOf<keyof CombinedVariables<WithLog[]>>().toEqualTypeOf<'requestId'>()
  })

  it('is NoVariables for an empty list, and adds nothing for middleware without values', () => {
    expectTypeOf<CombinedVariables<[]>>().toEqualTypeOf<NoVariables>()
    expectTypeOf<keyof CombinedVariables<[Middleware, Middleware]>>().toEqualTypeOf<never>()
  })

  it('VariablesOf reads one middleware', () => {
    expectTypeOf<VariablesOf<WithSignal>>().toEqualTypeOf<{ signal: AbortSignal }>()
  })
})
