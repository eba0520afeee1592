import type { Disposer } from '@sturdy/core'
import type { BreakerStateStore, SharedTransition } from './shared-state.ts'

/** What the link asks of the breaker it serves. */
export interface LinkedBreaker {
  /** Applies another replica's transition (already known to be newer). */
  applyRemote(transition: SharedTransition): void
}

/**
 * One breaker's connection to a `BreakerStateStore`: publishes its trips and trial
 * verdicts, applies newer ones from other replicas, and holds the half-open probe lease.
 * Every store call is off the call path; a failed one leaves the breaker on local state.
 */
export class SharedLink {
  readonly #store: BreakerStateStore
  readonly #name: string
  readonly #origin: string
  readonly #breaker: LinkedBreaker
  readonly #dispose: Disposer
  /** The newest epoch this breaker knows of (its own or heard). */
  #epoch = 0
  /** The probe lease of `#probeEpoch`: asked, granted, refused, or granted by default. */
  #probeEpoch = -1
  #probe: 'asking' | 'won' | 'lost' = 'asking'

  constructor(store: BreakerStateStore, name: string, breaker: LinkedBreaker) {
    this.#store = store
    this.#name = name
    this.#origin = `${name}:${Math.random().toString(36).slice(2)}:${Date.now().toString(36)}`
    this.#breaker = breaker
    // The store also replays the state in force, so a replica that starts (or a breaker
    // created) while the others hold the circuit open joins them.
    this.#dispose = store.subscribe(name, (t) => this.#heard(t))
  }

  /** Publishes a local trip or trial verdict. */
  publish(state: 'open' | 'closed', openRemainingMs: number): void {
    const provisional = ++this.#epoch
    this.#store
      .publish({ name: this.#name, state, openRemainingMs, origin: this.#origin }, provisional)
      .then(
        (epoch) => {
          if (epoch > this.#epoch) this.#epoch = epoch
        },
        () => {
          // Redis down: the other replicas learn nothing, this one goes on locally.
        },
      )
  }

  /**
   * Whether this replica may run the half-open trial now that its open period is over:
   * `won` (alone, or the store cannot tell), `lost` (another replica probes: stay open and
   * wait for its verdict), or `asking` (the answer is on its way; stay open meanwhile).
   */
  probe(ttlMs: number): 'asking' | 'won' | 'lost' {
    if (this.#probeEpoch !== this.#epoch) {
      this.#probeEpoch = this.#epoch
      this.#probe = 'asking'
      const epoch = this.#epoch
      this.#store.acquireProbe(this.#name, epoch, this.#origin, ttlMs).then(
        (granted) => {
          if (this.#probeEpoch === epoch) this.#probe = granted ? 'won' : 'lost'
        },
        () => {
          // No store to ask: probe locally, as a breaker without shared state would.
          if (this.#probeEpoch === epoch) this.#probe = 'won'
        },
      )
    }
    return this.#probe
  }

  /** Asks again for the lease of the current epoch next time (the prober went silent). */
  retryProbe(): void {
    this.#probeEpoch = -1
  }

  /** Stops listening (the breaker was dropped). */
  detach(): void {
    this.#dispose()
  }

  #heard(t: SharedTransition): void {
    if (t.origin === this.#origin || t.epoch <= this.#epoch) return
    this.#epoch = t.epoch
    this.#breaker.applyRemote(t)
  }
}
