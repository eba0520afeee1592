/** Median, min and max of a list of samples: the only summary the suite reports. */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  /** The raw samples, in the order they were taken (round 1 first). */
  readonly samples: readonly number[]
}

/** Summarizes samples; undefined for an empty list (nothing was measured). */
export function summarize(samples: readonly number[]): Summary | undefined {
  const finite = samples.filter((x) => Number.isFinite(x))
  if (finite.length === 0) return undefined
  const sorted = [...finite].sort((a, b) => a - b)
  return {
    median: median(sorted),
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    samples: finite,
  }
}

/** The median of an already sorted, non-empty list (mean of the middle two when even). */
function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Which way a figure improves: throughput goes up, time per op and memory go down. */
export type Better = 'higher' | 'lower'

/** A ratio with the spread of its per-round values. */
export interface Ratio {
  /** Median of the per-round ratios (or of the medians when rounds do not pair up). */
  readonly value: number
  readonly min: number
  readonly max: number
  /** `paired` when computed round by round, `medians` when from the two medians. */
  readonly method: 'paired' | 'medians'
}

/**
 * The ratio "Sturdy vs other", oriented so that the issue's convention holds: for
 * throughput (`higher`) it is sturdy / other, so > 1 means Sturdy is faster; for time
 * per op it is other / sturdy, so > 1 still means Sturdy is faster. Memory is the one
 * figure reported as a plain sturdy / other (lower is better): pass `'plain'`.
 *
 * Rounds are interleaved, so round i of both contenders ran under the same machine
 * conditions: the ratio is taken per round and the median of those is reported. That
 * cancels slow drifts (other engineers' test runs) better than a ratio of medians.
 */
export function ratioOf(
  sturdy: Summary | undefined,
  other: Summary | undefined,
  orientation: Better | 'plain',
): Ratio | undefined {
  if (sturdy === undefined || other === undefined) return undefined
  const one = (s: number, o: number): number => (orientation === 'lower' ? o / s : s / o)
  const paired = sturdy.samples.length === other.samples.length && sturdy.samples.length > 0
  if (paired) {
    const per = sturdy.samples.map((s, i) => one(s, other.samples[i] as number))
    const sum = summarize(per)
    if (sum !== undefined)
      return { value: sum.median, min: sum.min, max: sum.max, method: 'paired' }
  }
  const value = one(sturdy.median, other.median)
  if (!Number.isFinite(value)) return undefined
  return { value, min: value, max: value, method: 'medians' }
}

/** Rounds a figure for reports: 3 significant digits, integers kept whole. */
export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x) || x === 0) return x
  if (Math.abs(x) >= 10 ** digits) return Math.round(x)
  const p = digits - Math.ceil(Math.log10(Math.abs(x)))
  const f = 10 ** p
  return Math.round(x * f) / f
}
