import type { RateLimitDecision } from './algorithm.ts'

/**
 * Which `RateLimit` header fields to send: the IETF draft's current syntax
 * (`draft-10`, unchanged since -08), the older combined field (`draft-7`), the older
 * separate fields (`draft-6`), or none.
 */
export type RateLimitHeaders = 'draft-10' | 'draft-7' | 'draft-6' | false

/** Where headers go: an `Exchange` fits. */
export interface HeaderTarget {
  setHeader(name: string, value: string): void
}

/**
 * Builds the header writer for a policy: everything that does not change per request
 * (`RateLimit-Policy`, the quoted name) is rendered once.
 *
 * | draft | fields |
 * |---|---|
 * | 10 | `RateLimit-Policy: "api";q=100;w=60` · `RateLimit: "api";r=42;t=3` |
 * | 7 | `RateLimit-Policy: 100;w=60` · `RateLimit: limit=100, remaining=42, reset=3` |
 * | 6 | `RateLimit-Policy: 100;w=60` · `RateLimit-Limit: 100` · `RateLimit-Remaining: 42` · `RateLimit-Reset: 3` |
 *
 * `t` / `reset` is the whole seconds until more quota is available, rounded up, so a
 * `Retry-After` computed the same way never points earlier than it.
 *
 * @see https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/
 * @param draft which syntax
 * @param name the policy's name (draft-10 only)
 * @param limit the quota per window
 * @param windowMs the window
 * @returns a function that writes one decision's headers, or undefined for `false`
 */
export function headerWriter(
  draft: RateLimitHeaders,
  name: string,
  limit: number,
  windowMs: number,
): ((decision: RateLimitDecision, target: HeaderTarget) => void) | undefined {
  if (draft === false) return undefined
  const w = Math.max(1, Math.ceil(windowMs / 1000))
  const seconds = (ms: number): number => Math.ceil(ms / 1000)
  switch (draft) {
    case 'draft-10': {
      const item = sfString(name)
      const policy = `${item};q=${limit};w=${w}`
      return function writeDraft10(d, to) {
        to.setHeader('ratelimit-policy', policy)
        to.setHeader('ratelimit', `${item};r=${d.remaining};t=${seconds(d.resetMs)}`)
      }
    }
    case 'draft-7': {
      const policy = `${limit};w=${w}`
      return function writeDraft7(d, to) {
        to.setHeader('ratelimit-policy', policy)
        to.setHeader(
          'ratelimit',
          `limit=${d.limit}, remaining=${d.remaining}, reset=${seconds(d.resetMs)}`,
        )
      }
    }
    case 'draft-6': {
      const policy = `${limit};w=${w}`
      return function writeDraft6(d, to) {
        to.setHeader('ratelimit-policy', policy)
        to.setHeader('ratelimit-limit', String(d.limit))
        to.setHeader('ratelimit-remaining', String(d.remaining))
        to.setHeader('ratelimit-reset', String(seconds(d.resetMs)))
      }
    }
    default:
      throw new TypeError(`unknown RateLimit header draft: ${String(draft)}`)
  }
}

/** A structured-field string (RFC 8941 §3.3.3): printable ASCII, `"` and `\` escaped. */
export function sfString(value: string): string {
  let out = '"'
  for (const ch of value) {
    const code = ch.charCodeAt(0)
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (code >= 0x20 && code <= 0x7e) out += ch
    else out += '_'
  }
  return `${out}"`
}
