import type { ChaosEventMap, ChaosKind, Emitter, Events, Random } from '@sturdy/core'
import { createEmitter, systemRandom } from '@sturdy/core'

/** Options every chaos policy and chaos middleware takes. */
export interface ChaosOptions {
  /**
   * Names it in events, metrics, logs and the admin handler: 1–64 characters of
   * `A-Z a-z 0-9 . _ : -`. @default `chaos-<kind>` (e.g. `chaos-latency`)
   */
  name?: string
  /** Share of calls injected, in [0, 1] (Polly's `InjectionRate`). @default 0.001 */
  injectionRate?: number
  /** Whether it injects at all; flip it at run time with `update({ enabled })`. @default true */
  enabled?: boolean
  /** Random source for the injection draw and random latencies. @default systemRandom */
  random?: Random
}

/** A latency: fixed, or uniform between `min` and `max` (ms). */
export type LatencySpec = number | { readonly min: number; readonly max: number }

/** The settings of one chaos policy or middleware, as the admin handler shows them. */
export interface ChaosSettings {
  readonly name: string
  /** What it injects. */
  readonly kind: ChaosKind
  /** `policy` for outgoing calls, `middleware` for server requests. */
  readonly scope: 'policy' | 'middleware'
  readonly enabled: boolean
  readonly injectionRate: number
  /** The latency range, for `latency` only. */
  readonly latencyMs?: { readonly min: number; readonly max: number }
  /** The route patterns a middleware is scoped to (absent: every request). */
  readonly routes?: readonly string[]
}

/** A change of settings; absent fields are left as they are. */
export interface ChaosPatch {
  enabled?: boolean
  injectionRate?: number
  /** `latency` only. */
  latencyMs?: LatencySpec
}

/**
 * What every chaos policy and middleware exposes to be switched and observed at run
 * time. `kind` is the observer kind (`'chaos'`); what it injects is `settings().kind`.
 */
export interface ChaosControl {
  readonly kind: 'chaos'
  readonly name: string
  readonly events: Events<ChaosEventMap>
  /** The current settings. */
  settings(): ChaosSettings
  /**
   * Changes the settings, all or nothing: an invalid field throws a `RangeError` or
   * `TypeError` and changes nothing. Emits `changed`.
   *
   * @param patch the fields to change
   * @returns the settings after the change
   * @example chaos.update({ enabled: false }) // stop the drill now
   */
  update(patch: ChaosPatch): ChaosSettings
}

/** Names: safe in a URL path segment, a header value and a metric label. */
const NAME = /^[A-Za-z0-9._:-]{1,64}$/

/** The default injection rate, Polly's: one call in a thousand. */
export const DEFAULT_INJECTION_RATE = 0.001

/**
 * The mutable state behind one chaos policy or middleware. The hot path reads `enabled`
 * and calls `draw()`: a disabled one costs one property read per call.
 */
export class ChaosState {
  enabled: boolean
  readonly name: string
  readonly kind: ChaosKind
  readonly scope: 'policy' | 'middleware'
  readonly events: Emitter<ChaosEventMap>
  readonly routes: readonly string[] | undefined
  #rate: number
  #min: number
  #max: number
  readonly #random: Random

  constructor(
    kind: ChaosKind,
    scope: 'policy' | 'middleware',
    options: ChaosOptions & { latencyMs?: LatencySpec },
    routes?: readonly string[],
  ) {
    const name = options.name ?? `chaos-${kind}`
    if (!NAME.test(name)) {
      throw new TypeError(
        `chaos name must be 1-64 of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(name)}`,
      )
    }
    this.name = name
    this.kind = kind
    this.scope = scope
    this.routes = routes
    this.events = createEmitter<ChaosEventMap>()
    this.#random = options.random ?? systemRandom
    this.enabled = checkEnabled(options.enabled ?? true)
    this.#rate = checkRate(options.injectionRate ?? DEFAULT_INJECTION_RATE)
    const latency =
      kind === 'latency' ? checkLatency(options.latencyMs, Number.POSITIVE_INFINITY) : undefined
    this.#min = latency?.min ?? 0
    this.#max = latency?.max ?? 0
  }

  /** One injection decision: true with probability `injectionRate`. */
  draw(): boolean {
    const rate = this.#rate
    return rate >= 1 || (rate > 0 && this.#random() < rate)
  }

  /** The latency to inject now: fixed, or drawn uniformly from the range. */
  latency(): number {
    return this.#min === this.#max
      ? this.#min
      : this.#min + this.#random() * (this.#max - this.#min)
  }

  /** Reports an injection. */
  injected(latencyMs: number): void {
    if (this.events.has('injected')) {
      this.events.emit('injected', {
        name: this.name,
        kind: this.kind,
        scope: this.scope,
        latencyMs,
      })
    }
  }

  settings(): ChaosSettings {
    const base = {
      name: this.name,
      kind: this.kind,
      scope: this.scope,
      enabled: this.enabled,
      injectionRate: this.#rate,
    }
    return {
      ...base,
      ...(this.kind === 'latency' ? { latencyMs: { min: this.#min, max: this.#max } } : {}),
      ...(this.routes === undefined ? {} : { routes: this.routes }),
    }
  }

  update(patch: ChaosPatch): ChaosSettings {
    if (typeof patch !== 'object' || patch === null) throw new TypeError('patch must be an object')
    // Validate every field first, so a bad one changes nothing.
    const enabled = patch.enabled === undefined ? this.enabled : checkEnabled(patch.enabled)
    const rate = patch.injectionRate === undefined ? this.#rate : checkRate(patch.injectionRate)
    let latency: { min: number; max: number } | undefined
    if (patch.latencyMs !== undefined) {
      if (this.kind !== 'latency') {
        throw new TypeError(
          `latencyMs applies to latency chaos only; ${this.name} injects ${this.kind}`,
        )
      }
      latency = checkLatency(patch.latencyMs, Number.POSITIVE_INFINITY)
    }
    this.enabled = enabled
    this.#rate = rate
    if (latency !== undefined) {
      this.#min = latency.min
      this.#max = latency.max
    }
    if (this.events.has('changed')) {
      this.events.emit('changed', { name: this.name, enabled, injectionRate: rate })
    }
    return this.settings()
  }

  /** The `ChaosControl` members, to put on a policy or a middleware function. */
  control(): ChaosControl {
    return {
      kind: 'chaos',
      name: this.name,
      events: this.events,
      settings: () => this.settings(),
      update: (patch) => this.update(patch),
    }
  }
}

function checkEnabled(value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`enabled must be a boolean, got ${String(value)}`)
  return value
}

function checkRate(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new RangeError(`injectionRate must be a number in [0, 1], got ${String(value)}`)
  }
  return value
}

/**
 * Validates a latency: finite, `0 <= min <= max <= maxMs`.
 *
 * @param value a fixed latency or a `{ min, max }` range
 * @param maxMs the largest latency accepted
 * @returns the range
 */
export function checkLatency(value: unknown, maxMs: number): { min: number; max: number } {
  const range =
    typeof value === 'number'
      ? { min: value, max: value }
      : typeof value === 'object' && value !== null
        ? (value as { min: unknown; max: unknown })
        : undefined
  if (range === undefined) throw new TypeError('latencyMs must be a number or { min, max }')
  const { min, max } = range
  if (
    typeof min !== 'number' ||
    typeof max !== 'number' ||
    !Number.isFinite(min) ||
    !Number.isFinite(max) ||
    min < 0 ||
    max < min ||
    max > maxMs
  ) {
    throw new RangeError(
      `latencyMs must be finite with 0 <= min <= max <= ${maxMs}, got ${JSON.stringify(value)}`,
    )
  }
  return { min, max }
}
