import type { FrameworkAdapter } from './harness.ts'

/**
 * One behaviour every framework must show identically. A scenario builds its app from
 * Sturdy middleware and neutral routes, serves it with `withServer`, and asserts.
 */
export interface Scenario {
  readonly name: string
  run(adapter: FrameworkAdapter): Promise<void>
  /** A longer test timeout, for scenarios that put real load on a server. @default vitest's */
  readonly timeoutMs?: number
}

/** A group of scenarios, usually one per Sturdy package. */
export interface Suite {
  /** The package the scenarios prove, e.g. `@sturdy/timeout`. */
  readonly feature: string
  readonly scenarios: readonly Scenario[]
}
