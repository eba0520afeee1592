// Type tests: vitest checks them with tsc (typecheck.include in vitest.config.ts).
import type { TraceContext } from '@sturdy/core'
import type { FastifyPluginCallback, FastifyRequest } from 'fastify'
import { describe, expectTypeOf, it } from 'vitest'
import type { SturdyFastifyOptions } from './index.ts'
import { sturdy } from './index.ts'

describe('types', () => {
  it('is a Fastify plugin taking { middleware }', () => {
    expectTypeOf(sturdy).toEqualTypeOf<FastifyPluginCallback<SturdyFastifyOptions>>()
  })

  it('types the conventional values on request.sturdy', () => {
    const read = (request: FastifyRequest) => {
      expectTypeOf(request.sturdy.signal).toEqualTypeOf<AbortSignal | undefined>()
      expectTypeOf(request.sturdy.requestId).toEqualTypeOf<string | undefined>()
      expectTypeOf(request.sturdy.deadline).toEqualTypeOf<number | undefined>()
      expectTypeOf(request.sturdy.trace).toEqualTypeOf<TraceContext | undefined>()
      expectTypeOf(request.sturdy.custom).toEqualTypeOf<unknown>()
    }
    expectTypeOf(read).toBeFunction()
  })
})
