// Type tests: vitest checks them with tsc (typecheck.include in vitest.config.ts).
import type { Middleware } from '@sturdy/core'
import { Hono } from 'hono'
import { describe, expectTypeOf, it } from 'vitest'
import type { SturdyEnv } from './index.ts'
import { sturdy } from './index.ts'

const pass = async (_ex: unknown, next: () => Promise<void>): Promise<void> => next()
const withSignal = pass as Middleware<{ signal: AbortSignal }>
const withLog = pass as Middleware<{ log: { info(msg: string): void }; requestId: string }>
const plain: Middleware = pass

describe('types', () => {
  it('combines the values of every middleware into c.var', () => {
    const app = new Hono().use(sturdy(withSignal, withLog, plain))
    app.get('/', (c) => {
      expectTypeOf(c.var.signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(c.var.requestId).toEqualTypeOf<string>()
      expectTypeOf(c.var.log.info).parameters.toEqualTypeOf<[string]>()
      return c.text('ok')
    })
  })

  it('SturdyEnv types an app declared up front', () => {
    const stack = [withSignal, plain] as const
    type E = SturdyEnv<typeof stack>
    expectTypeOf<keyof E['Variables']>().toEqualTypeOf<'signal'>()
    expectTypeOf<E['Variables']['signal']>().toEqualTypeOf<AbortSignal>()
    const app = new Hono<E>()
    app.use(sturdy(...stack))
    app.get('/', (c) => c.text(String(c.var.signal.aborted)))
  })

  it('a list with no values adds none', () => {
    type E = SturdyEnv<[typeof plain]>
    expectTypeOf<keyof E['Variables']>().toEqualTypeOf<never>()
  })
})
