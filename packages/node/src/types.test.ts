// Type-level tests: checked by `tsc` (typecheck); the runtime assertions are trivial.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, expectTypeOf, it } from 'vitest'
import { sturdy, valuesOf } from './index.ts'

describe('types', () => {
  it('sturdy() returns a request listener', () => {
    expectTypeOf(sturdy(() => {})).toEqualTypeOf<
      (req: IncomingMessage, res: ServerResponse) => void
    >()
  })

  it('valuesOf() is typed by the caller, every value possibly missing', () => {
    const read = (req: IncomingMessage) => {
      expectTypeOf(valuesOf<{ signal: AbortSignal }>(req).signal).toEqualTypeOf<
        AbortSignal | undefined
      >()
      expectTypeOf(valuesOf(req).anything).toEqualTypeOf<unknown>()
    }
    expectTypeOf(read).toBeFunction()
  })
})
