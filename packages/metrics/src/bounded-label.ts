import type { Exchange } from '@sturdy/core'

/** The value a label takes once its guard refuses a value. */
export const OVERFLOW_VALUE = '__other__'

/**
 * An extra label on the request-duration histogram. Every extra label is bounded: either
 * by an allow-list, or by a cap on distinct values after which new values share the
 * overflow value. A label can never turn user input into unbounded series.
 */
export interface ExtraLabel {
  /**
   * Reads the label's value, after the rest of the request has run (so response facts
   * are available too). `undefined` or `''` leaves the label empty. A throw counts as empty.
   */
  readonly value: (ex: Exchange) => string | undefined
  /** The only values kept as they are; any other value becomes `overflow`. @default undefined (use `maxValues`) */
  readonly allow?: readonly string[]
  /** Without `allow`: how many distinct values are kept, first come first kept. @default 10 */
  readonly maxValues?: number
  /** What refused values become. @default '__other__' */
  readonly overflow?: string
}

/** Maps raw values to bounded label values. */
export type LabelGuard = (raw: string | undefined) => string

/**
 * Builds the guard for one extra label: at most `allow.length` (or `maxValues`) distinct
 * values plus the empty value and the overflow value ever come out of it.
 *
 * @param label the label's bounds
 * @returns a function from raw value to label value
 * @example
 * const guard = boundedLabel({ value: (ex) => ex.header('x-tenant'), maxValues: 2 })
 * guard('a'); guard('b'); guard('c') // 'a', 'b', '__other__'
 */
export function boundedLabel(label: Omit<ExtraLabel, 'value'>): LabelGuard {
  const overflow = label.overflow ?? OVERFLOW_VALUE
  if (label.allow !== undefined) {
    const allowed = new Set(label.allow)
    return (raw) => (raw === undefined || raw === '' ? '' : allowed.has(raw) ? raw : overflow)
  }
  const max = label.maxValues ?? 10
  if (!Number.isInteger(max) || max < 0) {
    throw new RangeError(`maxValues must be a non-negative integer, got ${max}`)
  }
  const seen = new Set<string>()
  return (raw) => {
    if (raw === undefined || raw === '') return ''
    if (seen.has(raw)) return raw
    if (seen.size >= max) return overflow
    seen.add(raw)
    return raw
  }
}
