import type { Clock, Disposer, Random, TimerHandle } from '@sturdy/core'
import type { BreakerStateStore, SharedCounts, SharedTransition } from './shared-state.ts'
import type { RatioCounts } from './transition.ts'

/** What the link asks of the breaker it serves. */
export interface LinkedBreaker {
  /** Applies another replica's transition (already known to be newer). */
  applyRemote(transition: SharedTransition): void
  /** The cluster's counts were refreshed (`mergeCounts`): trip on them if they say so. */
  clusterCounts(): void
}

/** How a link syncs; resolved from `SharedBreakerOptions`. */
export interface LinkSettings {
  readonly store: BreakerStateStore
  readonly syncMs: number
  readonly random: Random
  /** The cluster's count window, when counts are merged. */
  readonly window: { readonly bucketMs: number; readonly buckets: number } | undefined
}

/**
 * One breaker's connection to a `BreakerStateStore`: publishes its trips and trial
 * verdicts, applies newer ones from other replicas, holds the half-open probe lease, and
 * every `syncMs` (jittered) reads the shared state back — so a replica whose subscriber
 * missed a message still converges — and, with merged counts, reports its results and
 * takes the cluster's totals. Every store call is off the call path; a failed one leaves
 * the breaker on local state.
 */
export class SharedLink {
  readonly #s: LinkSettings
  readonly #store: BreakerStateStore
  readonly #name: string
  readonly #origin: string
  readonly #breaker: LinkedBreaker
  readonly #clock: Clock
  readonly #dispose: Disposer
  /** The newest epoch this breaker knows of (its own or heard). */
  #epoch = 0
  /** The probe lease of `#probeEpoch`: asked, granted, refused, or granted by default. */
  #probeEpoch = -1
  #probe: 'asking' | 'won' | 'lost' = 'asking'
  /** When the lease answer came (the clock's time): a lost lease is waited out from then. */
  #probeAnsweredAt = 0
  #timer: TimerHandle | undefined
  /** A sync's store calls are still out (a slow store is not asked again meanwhile). */
  #syncing = false
  #detached = false
  /** Results not reported yet (`mergeCounts`). */
  readonly #pending = { totalSuccesses: 0, totalFailures: 0, slowCalls: 0 }
  /** Bumped when counts are cleared, so a report's answer from before is dropped. */
  #countsAge = 0
  /** See `cluster`. */
  readonly #cluster = { totalSuccesses: 0, totalFailures: 0, slowCalls: 0 }

  constructor(settings: LinkSettings, name: string, clock: Clock, breaker: LinkedBreaker) {
    this.#s = settings
    this.#store = settings.store
    this.#name = name
    this.#origin = `${name}:${Math.random().toString(36).slice(2)}:${Date.now().toString(36)}`
    this.#breaker = breaker
    this.#clock = clock
    // The store also replays the state in force, so a replica that starts (or a breaker
    // created) while the others hold the circuit open joins them.
    this.#dispose = this.#store.subscribe(name, (t) => this.#heard(t))
    this.#schedule()
  }

  /**
   * Publishes a local transition; resolves with whether the store took it (never
   * rejects). Trips and verdicts ignore the answer; `isolate`/`reset({ shared })` return it.
   */
  publish(
    state: SharedTransition['state'],
    openRemainingMs: number,
    manual = false,
  ): Promise<boolean> {
    const before = this.#epoch
    const provisional = ++this.#epoch
    const transition = { name: this.#name, state, openRemainingMs, origin: this.#origin, manual }
    return this.#store.publish(transition, provisional).then(
      (epoch) => {
        if (epoch > this.#epoch) this.#epoch = epoch
        return true
      },
      () => {
        // Redis down: the other replicas learn nothing, this one goes on locally. The epoch
        // it took was never given out: forget it, so the next transition the store does
        // give out with that number (another replica's) is not taken for an old one.
        if (this.#epoch === provisional) this.#epoch = before
        return false
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
          if (this.#probeEpoch !== epoch) return
          this.#probe = granted ? 'won' : 'lost'
          this.#probeAnsweredAt = this.#clock.now()
        },
        () => {
          // No store to ask: probe locally, as a breaker without shared state would.
          if (this.#probeEpoch === epoch) this.#probe = 'won'
        },
      )
    }
    return this.#probe
  }

  /** When the last lease answer came, on the breaker's clock. */
  get probeAnsweredAt(): number {
    return this.#probeAnsweredAt
  }

  /** Asks again for the lease of the current epoch next time (the prober went silent). */
  retryProbe(): void {
    this.#probeEpoch = -1
  }

  /**
   * The cluster's window as the store last reported it, plus this replica's results since:
   * what a cluster-wide ratio trip looks at. Only this replica's own until the store
   * answers, and again after a transition.
   */
  get cluster(): RatioCounts {
    return this.#cluster
  }

  /** Counts a closed-state result for the cluster (`mergeCounts`). */
  count(failed: boolean, slow: boolean): void {
    const p = this.#pending
    const c = this.#cluster
    if (failed) {
      p.totalFailures++
      c.totalFailures++
    } else {
      p.totalSuccesses++
      c.totalSuccesses++
    }
    if (slow) {
      p.slowCalls++
      c.slowCalls++
    }
  }

  /** Forgets counts of the generation that just ended (the breaker changed state). */
  clearCounts(): void {
    this.#countsAge++
    zero(this.#pending)
    zero(this.#cluster)
  }

  /** Stops listening and syncing (the breaker was dropped). */
  detach(): void {
    this.#detached = true
    this.#dispose()
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #heard(t: SharedTransition): void {
    if (this.#detached || t.epoch <= this.#epoch) return
    this.#epoch = t.epoch
    // Our own transition read back (its publish answer was lost): already applied here.
    if (t.origin !== this.#origin) this.#breaker.applyRemote(t)
  }

  #schedule(): void {
    const { syncMs, random } = this.#s
    if (syncMs === Number.POSITIVE_INFINITY || this.#detached) return
    // In (syncMs / 2, syncMs]: the bound holds, and replicas do not sync in lockstep.
    const delay = syncMs * (1 - random() / 2)
    this.#timer = this.#clock.setTimeout(() => this.#sync(), delay)
  }

  /** Reads the shared state back and, with merged counts, swaps counts with the store. */
  #sync(): void {
    this.#timer = undefined
    this.#schedule()
    if (this.#syncing) return
    this.#syncing = true
    const state = this.#store.current(this.#name).then(
      (t) => {
        if (t !== undefined) this.#heard(t)
      },
      () => {
        // Store down: stay on what we know; the next sync tries again.
      },
    )
    const counts = this.#s.window === undefined ? undefined : this.#report(this.#s.window)
    Promise.all([state, counts]).then(() => {
      this.#syncing = false
    })
  }

  /**
   * Hands the unreported results to the store and takes the cluster's totals. Results a
   * failed report carried are dropped (by the time the store is back they would land in
   * the wrong bucket), and the cluster view falls back to this replica's own.
   */
  #report(window: NonNullable<LinkSettings['window']>): Promise<void> {
    const age = this.#countsAge
    const p = this.#pending
    const report = {
      epoch: this.#epoch,
      successes: p.totalSuccesses,
      failures: p.totalFailures,
      slowCalls: p.slowCalls,
      bucketMs: window.bucketMs,
      buckets: window.buckets,
    }
    zero(p)
    return this.#store.addCounts(this.#name, report).then(
      (sum) => this.#merge(age, sum),
      () => {
        if (age === this.#countsAge) copy(this.#pending, this.#cluster)
      },
    )
  }

  #merge(age: number, sum: SharedCounts): void {
    if (this.#detached || age !== this.#countsAge) return
    const p = this.#pending
    const c = this.#cluster
    if (sum.epoch !== this.#epoch) {
      // Our results were of an older epoch (the store's state arrives by the same sync).
      copy(p, c)
      return
    }
    // Results counted while the report was out are not in the store's totals yet.
    c.totalSuccesses = sum.successes + p.totalSuccesses
    c.totalFailures = sum.failures + p.totalFailures
    c.slowCalls = sum.slowCalls + p.slowCalls
    this.#breaker.clusterCounts()
  }
}

type Tally = { -readonly [K in keyof RatioCounts]: number }

function zero(c: Tally): void {
  c.totalSuccesses = 0
  c.totalFailures = 0
  c.slowCalls = 0
}

function copy(from: Tally, to: Tally): void {
  to.totalSuccesses = from.totalSuccesses
  to.totalFailures = from.totalFailures
  to.slowCalls = from.slowCalls
}
