import type { Problem } from '@sturdy/core'
import { isSturdyError, problemResponse, statusTitle } from '@sturdy/core'
import type { Context, ErrorHandler } from 'hono'

/** Options of `problemErrorHandler()`. */
export interface ProblemErrorHandlerOptions {
  /**
   * Called for errors that are not Sturdy errors (bugs, crashes) before the bare 500 is
   * sent — the place to report them. `@sturdy/logger`'s access line already logs every
   * 5xx with its stack, so the default does nothing.
   * @default undefined
   */
  onUnexpected?: (error: Error, c: Context) => void
}

/**
 * A Hono `app.onError` handler that answers every error as RFC 9457 problem+json:
 * Sturdy errors keep their status (a `TimeoutError` a handler let escape becomes 504, a
 * `ValidationError` 400 naming each field, a `BrokenCircuitError` 503), Hono's
 * `HTTPException`s keep their status (and their own response, when they carry one), and anything else is a bare 500 that leaks no message
 * or stack. Unlike Hono's default handler it writes nothing to the console.
 *
 * @param options see `ProblemErrorHandlerOptions`
 * @returns a named Hono `ErrorHandler`
 * @example
 * import { Hono } from 'hono'
 * import { problemErrorHandler } from '@sturdy/hono'
 *
 * const app = new Hono()
 * app.onError(problemErrorHandler())
 */
export function problemErrorHandler(options: ProblemErrorHandlerOptions = {}): ErrorHandler {
  const { onUnexpected } = options
  return function sturdyProblemErrorHandler(error, c): Response {
    let source: Problem | Error = error
    if (!isSturdyError(error)) {
      const httpStatus = httpExceptionStatus(error)
      if (httpStatus !== undefined) {
        // Hono's HTTPException carries a status the handler chose on purpose; a custom
        // response it carries is sent as is. Its message is shown for 4xx only: a 5xx
        // message describes the server's trouble, which clients must not see.
        const own = (error as { res?: unknown }).res
        if (own instanceof Response) return (error as { getResponse(): Response }).getResponse()
        source = { title: statusTitle(httpStatus), status: httpStatus }
        if (httpStatus < 500 && error.message !== '') source.detail = error.message
      } else {
        onUnexpected?.(error, c)
      }
    }
    const answer = problemResponse(source)
    return c.body(answer.body, answer.status as 500, answer.headers)
  }
}

function httpExceptionStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const e = error as { status?: unknown; getResponse?: unknown }
  return typeof e.status === 'number' && typeof e.getResponse === 'function' ? e.status : undefined
}
