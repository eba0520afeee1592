/**
 * Request ids: when an incoming `X-Request-Id` may be reused, and how a fresh one is made.
 * An id ends up in every log line and in a response header, so an untrusted value must
 * not be able to forge log structure (newlines, quotes), smuggle markup, or bloat lines.
 */

/** The longest incoming id reused by default; longer ones are replaced. */
export const DEFAULT_MAX_REQUEST_ID_LENGTH = 128

// Letters, digits and the punctuation of UUIDs, ULIDs, base64/base64url and
// `<service>:<n>` ids. No whitespace, quotes, backslashes, `<>` or control characters.
const SAFE_ID = /^[A-Za-z0-9._:+=/-]+$/

/**
 * True when `id` is safe to reuse as a request id: 1 to `maxLength` characters from
 * `A-Z a-z 0-9 . _ : + = / -`.
 *
 * @param id the incoming header value, or undefined when absent
 * @param maxLength the longest id accepted; @default 128
 * @returns whether the id may be logged and echoed as is
 * @example
 * isSafeRequestId('9f1c-42') // true
 * isSafeRequestId('evil\n{"level":60}') // false
 */
export function isSafeRequestId(
  id: string | undefined,
  maxLength: number = DEFAULT_MAX_REQUEST_ID_LENGTH,
): id is string {
  // The length check first keeps the regex off megabyte-long headers.
  return id !== undefined && id.length > 0 && id.length <= maxLength && SAFE_ID.test(id)
}

/**
 * The default id generator: a random UUID v4 from Web Crypto (no process-wide counter,
 * so ids stay unique across instances and restarts).
 *
 * @returns a new UUID
 * @example
 * randomRequestId() // '3b241101-e2bb-4255-8caf-4136c566a962'
 */
export function randomRequestId(): string {
  return globalThis.crypto.randomUUID()
}
