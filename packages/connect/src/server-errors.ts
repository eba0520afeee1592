import type { Interceptor } from '@connectrpc/connect'
import type { AnyRequest, AnyResponse } from './call.ts'
import { toConnectError } from './errors.ts'

/**
 * A server interceptor that turns what a handler throws into the status its caller
 * should get (see `toConnectError`): `TimeoutError` → DEADLINE_EXCEEDED,
 * `BrokenCircuitError` → UNAVAILABLE with pushback, `ValidationError` →
 * INVALID_ARGUMENT with a `google.rpc.BadRequest` naming the fields, other Sturdy errors
 * by their HTTP status, and anything else → INTERNAL `internal error` — where Connect
 * alone would send UNKNOWN with the error's message, leaking internals. A streamed
 * response's failure is mapped too.
 *
 * Place it last (innermost), so observers outside it see the code the caller gets.
 *
 * @returns a Connect interceptor
 * @example
 * connectNodeAdapter({ routes, interceptors: [serverObservers(rpcSpans()), serverDeadline(), serverErrors()] })
 */
export function serverErrors(): Interceptor {
  return (next) =>
    async function errorInterceptor(req: AnyRequest): Promise<AnyResponse> {
      let res: AnyResponse
      try {
        res = await next(req)
      } catch (error) {
        throw toConnectError(error)
      }
      if (!res.stream) return res
      const source = res.message
      return {
        ...res,
        message: mapErrors(source),
      }
    }
}

async function* mapErrors<T>(source: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* source
  } catch (error) {
    throw toConnectError(error)
  }
}
