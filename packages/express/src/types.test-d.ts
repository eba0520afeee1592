// Type tests: vitest checks them with tsc (typecheck.include in vitest.config.ts).
import type { Middleware } from '@sturdy/core'
import type { Request, RequestHandler, Response } from 'express'
import { describe, expectTypeOf, it } from 'vitest'
import type { SturdyLocals } from './index.ts'
import { sturdy } from './index.ts'

const pass = async (_ex: unknown, next: () => Promise<void>): Promise<void> => next()
const withSignal = pass as Middleware<{ signal: AbortSignal }>
const withLog = pass as Middleware<{ log: { info(msg: string): void }; requestId: string }>

describe('types', () => {
  it('sturdy() is an Express RequestHandler', () => {
    expectTypeOf(sturdy(withSignal, withLog)).toEqualTypeOf<RequestHandler>()
  })

  it('SturdyLocals types res.locals in handlers', () => {
    const stack = [withSignal, withLog] as const
    const handler = (_req: Request, res: Response<unknown, SturdyLocals<typeof stack>>): void => {
      expectTypeOf(res.locals.signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(res.locals.requestId).toEqualTypeOf<string>()
      expectTypeOf(res.locals.log.info).parameters.toEqualTypeOf<[string]>()
    }
    expectTypeOf(handler).toBeFunction()
  })
})
