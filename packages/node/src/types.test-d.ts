// Type tests: vitest checks them with tsc (typecheck.include in vitest.config.ts).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Middleware } from '@sturdy/core'
import { describe, expectTypeOf, it } from 'vitest'
import type { SturdyValues } from './index.ts'
import { sturdy, valuesOf } from './index.ts'

describe('types', () => {
  it('sturdy() returns a request listener', () => {
    expectTypeOf(sturdy(() => {})).toEqualTypeOf<
      (req: IncomingMessage, res: ServerResponse) => void
    >()
  })

  it('valuesOf() is typed by the caller, the values present (as c.var is in Hono)', () => {
    const stack = [
      null as unknown as Middleware<{ signal: AbortSignal; requestId: string }>,
    ] as const
    const read = (req: IncomingMessage) => {
      expectTypeOf(valuesOf<{ signal: AbortSignal }>(req).signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(valuesOf<SturdyValues<typeof stack>>(req).signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(valuesOf<SturdyValues<typeof stack>>(req).requestId).toEqualTypeOf<string>()
      expectTypeOf(valuesOf(req).anything).toEqualTypeOf<unknown>()
    }
    expectTypeOf(read).toBeFunction()
  })
})
