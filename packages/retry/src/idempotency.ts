import type { Policy } from '@sturdy/core'
import { isIdempotentMethod, noPolicy } from '@sturdy/core'
import type { HeadersLike } from './pushback.ts'
import { headerValue } from './pushback.ts'

/** The parts of an outgoing request the idempotency rule looks at. */
export interface RequestLike {
  readonly method: string
  readonly headers?: HeadersLike | undefined
}

/** Options of `isRetryableRequest` and `idempotentOnly`. */
export interface IdempotencyOptions {
  /** Header whose presence makes any method safe to retry. @default 'idempotency-key' */
  idempotencyKeyHeader?: string
  /** Retry regardless of method: the caller knows the call is safe to repeat. @default false */
  override?: boolean
}

/**
 * True when repeating `request` is safe: its method is idempotent per RFC 9110 (GET,
 * HEAD, OPTIONS, TRACE, PUT, DELETE, QUERY), it carries an `Idempotency-Key`, or the
 * caller overrides.
 *
 * @param request the method and headers of the outgoing request
 * @param options the header that marks a request safe to repeat, and an override (see `IdempotencyOptions`)
 * @returns whether a retry may repeat the request
 * @see https://www.rfc-editor.org/rfc/rfc9110#name-idempotent-methods
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-idempotency-key-header/
 * @example
 * isRetryableRequest({ method: 'POST' }) // false
 * isRetryableRequest({ method: 'POST', headers: { 'Idempotency-Key': 'a1' } }) // true
 */
export function isRetryableRequest(
  request: RequestLike,
  options: IdempotencyOptions = {},
): boolean {
  if (options.override === true || isIdempotentMethod(request.method)) return true
  if (request.headers === undefined) return false
  const key = headerValue(
    request.headers,
    (options.idempotencyKeyHeader ?? 'idempotency-key').toLowerCase(),
  )
  return key !== undefined && key !== ''
}

/**
 * Gates a retry policy on idempotency: for each request, the policy when repeating it is
 * safe, otherwise a pass-through that makes exactly one attempt.
 *
 * @param policy the retry policy (or a composition containing one)
 * @param options as for `isRetryableRequest` (see `IdempotencyOptions`)
 * @returns `(request) => Policy`
 * @example
 * const forRequest = idempotentOnly(retry({ retryOnResult: httpRetryableResult }))
 * const init = { method: 'POST', headers: { 'idempotency-key': crypto.randomUUID() } }
 * await forRequest(init).execute(({ signal }) => fetch(url, { ...init, signal }))
 */
export function idempotentOnly(
  policy: Policy,
  options: IdempotencyOptions = {},
): (request: RequestLike) => Policy {
  return function policyForRequest(request: RequestLike): Policy {
    return isRetryableRequest(request, options) ? policy : noPolicy
  }
}
