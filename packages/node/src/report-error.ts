import type { Exchange } from '@sturdy/core'
import { isSturdyError, VALUES } from '@sturdy/core'

/**
 * What the default `onError` does besides answering: makes sure the error reaches a log.
 * The client gets a bare problem+json 500 that leaks nothing, so the error must be
 * written somewhere. With a request logger (`@sturdy/logger`, which shares the request's
 * `log` value) the request's access line already carries it — at `error`, with its
 * stack — so writing it again would log each failure twice (and unlike the other
 * adapters). Without one, `console.error`. Client errors (a Sturdy error under 500, such
 * as a `ValidationError`) are answered, not reported.
 *
 * @param ex the request
 * @param error what the listener threw or rejected with
 */
export function reportError(ex: Exchange, error: unknown): void {
  if (isSturdyError(error) && error.status < 500) return
  if (ex.get(VALUES.log) !== undefined) return
  console.error(`@sturdy/node: ${ex.method} ${ex.path}: the request listener failed:`, error)
}
