import type { Exchange } from '@sturdy/core'
import { isSturdyError, VALUES } from '@sturdy/core'

interface ErrorLogger {
  error(fields: { err: unknown }, message: string): void
}

/**
 * What the default `onError` does besides answering: tells someone. The client gets a
 * bare problem+json 500 that leaks nothing, so the error itself must reach a log: the
 * request's logger (`VALUES.log`, as `@sturdy/logger` shares it) when there is one,
 * otherwise `console.error`. Client errors (a Sturdy error under 500, such as a
 * `ValidationError`) are answered, not reported.
 *
 * @param ex the request
 * @param error what the listener threw or rejected with
 */
export function reportError(ex: Exchange, error: unknown): void {
  if (isSturdyError(error) && error.status < 500) return
  const log = ex.get<Partial<ErrorLogger>>(VALUES.log)
  if (log !== undefined && typeof log.error === 'function') {
    log.error({ err: error }, 'request listener failed')
  } else {
    console.error(`@sturdy/node: ${ex.method} ${ex.path}: the request listener failed:`, error)
  }
}
