import { isTimeoutError } from '@sturdy/core'

/**
 * The default "too much load" test for a call's error or result: a `TimeoutError`, or a
 * status of 429 or 503 (on a thrown error, or on a resolved value such as a fetch
 * `Response`). Everything else — success or an ordinary failure — means the backend
 * took the call.
 */
export function isOverloadSignal(value: unknown): boolean {
  if (isTimeoutError(value)) return true
  if (typeof value !== 'object' || value === null) return false
  const status = (value as { status?: unknown }).status
  return status === 429 || status === 503
}
