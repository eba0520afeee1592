import { ClientClosedError } from './errors.ts'

/**
 * The request-signal half of an Exchange, written once for every adapter: the signal is
 * created lazily (on the first read of `signal`), `abort(reason)` aborts it once (before
 * or after it exists), and `aborted` answers without creating it. An adapter's Exchange
 * class extends it and supplies only how to watch its client:
 *
 * - call `clientClosed()` when the client goes away (a response `close` before it
 *   finished, a request signal aborting), and/or
 * - override `watchClient()` to start watching only once someone has created the signal
 *   (what a request that nobody asks about then costs: nothing), with `clientGone()`
 *   telling `aborted` about a client that left while nobody watched.
 *
 * Extending it (rather than holding one) keeps the per-request allocations at one
 * object, the Exchange itself.
 *
 * @example
 * class MyExchange extends RequestSignal implements Exchange {
 *   constructor(private readonly req: MyRequest) {
 *     super()
 *     req.onClose(() => this.clientClosed())
 *   }
 *   // ...the rest of the Exchange
 * }
 */
export class RequestSignal {
  #controller: AbortController | undefined
  #reason: unknown
  #aborted = false

  /**
   * Aborts on `abort(reason)` or when the client goes away, whichever comes first;
   * `signal.reason` tells which (see `abortKind`). Created on first read.
   */
  get signal(): AbortSignal {
    if (this.#controller !== undefined) return this.#controller.signal
    const controller = new AbortController()
    this.#controller = controller
    if (this.#aborted) controller.abort(this.#reason)
    else this.watchClient()
    return controller.signal
  }

  /** True once aborted. Reading it creates no signal (it asks `clientGone()` instead). */
  get aborted(): boolean {
    if (!this.#aborted && this.#controller === undefined && this.clientGone()) this.clientClosed()
    return this.#aborted
  }

  /** Aborts the request signal with `reason`. Later calls are ignored. */
  abort(reason: unknown): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    this.#controller?.abort(reason)
  }

  /** The client went away: aborts with a `ClientClosedError`. */
  protected clientClosed(): void {
    this.abort(new ClientClosedError())
  }

  /**
   * Called once, when the signal is created (and not yet aborted): start watching the
   * client, and call `clientClosed()` when it leaves. By default nothing: adapters that
   * watch from the start need not override it.
   */
  protected watchClient(): void {}

  /**
   * Asked by `aborted` while no signal exists (so nobody watches): true when the client
   * has already gone. By default false.
   */
  protected clientGone(): boolean {
    return false
  }
}
