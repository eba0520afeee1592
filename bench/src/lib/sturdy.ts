/**
 * Access to the Sturdy packages that exist right now (see build.ts). A contender asks for
 * a factory by package and export name; when it is not there yet, the piece is recorded
 * as missing and left out, so the contender says exactly what it measured.
 */
import { missing as missingPackages, packages } from 'sturdy:packages'

// biome-ignore lint/suspicious/noExplicitAny: package APIs are being written; checked at run time
type AnyFn = (...args: any[]) => any

/** Records the pieces a contender could not wire. */
export class Wiring {
  readonly missing: string[] = []
  readonly stack: string[] = []

  /**
   * The first export among `names` of `@sturdy/<pkg>` that is a function, or undefined
   * (and a note in `missing`).
   */
  factory(pkg: string, names: readonly string[]): AnyFn | undefined {
    const mod = packages[pkg]
    if (mod === undefined) {
      this.missing.push(missingPackages[pkg] ?? `@sturdy/${pkg} is not available`)
      return undefined
    }
    for (const name of names) {
      const value = mod[name]
      if (typeof value === 'function') return value as AnyFn
    }
    this.missing.push(`@sturdy/${pkg} exports none of ${names.join(', ')}`)
    return undefined
  }

  /** Notes a mounted piece, for the results. */
  use(label: string): void {
    this.stack.push(label)
  }
}

/** True when `@sturdy/<pkg>` was bundled. */
export function has(pkg: string): boolean {
  return packages[pkg] !== undefined
}
