import type { Exchange } from '@sturdy/core'

/**
 * Runs an option callback; a callback that throws counts as absent. The logger observes
 * the request and must never be what breaks it.
 *
 * @param fn the user's callback, if any
 * @param ex the request
 * @returns what it returned, or undefined when it is absent or threw
 */
export function callSafely<T>(fn: ((ex: Exchange) => T) | undefined, ex: Exchange): T | undefined {
  if (fn === undefined) return undefined
  try {
    return fn(ex)
  } catch {
    return undefined
  }
}
