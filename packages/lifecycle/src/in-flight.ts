import type { Clock, Exchange, Next, Problem } from '@sturdy/core'
import { respondProblem, ShutdownError } from '@sturdy/core'

/**
 * The requests in flight, as the lifecycle middleware sees them, and what happens to
 * them at the drain bound: each is answered 503 (problem+json, `Retry-After`) unless it
 * already answered, its middleware returns at once, and its request signal aborts with
 * a `ShutdownError`.
 *
 * Cost per request (the hot path): one small object, one promise the middleware awaits,
 * and an array push / swap-remove. No closure is created per request: the promise's
 * resolvers are captured by a module-level executor, and `next()`'s outcome is forwarded
 * to them directly. The extra promise is what lets the bound answer a request whose
 * handler ignores its signal — in Hono the response is the middleware's return value,
 * so nothing else can answer it. (A `Set` was measured 4× slower here on Node 20: V8
 * rehashes a set that churns through adds and deletes.)
 */
export class InFlight {
  /** Unordered; each flight knows its index, so removal is a swap with the last. */
  readonly #flights: Flight[] = []
  readonly #clock: Clock
  #draining = false
  #refusing = false
  #waiters: Array<() => void> = []
  #aborts: Exchange[] = []
  /** Requests running when the drain began. */
  inFlightAtDrain = 0
  /** Requests that completed normally after the drain began. */
  drained = 0
  /** Requests answered 503 at (or after) the bound. */
  aborted = 0

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** How many requests are running now. */
  get size(): number {
    return this.#flights.length
  }

  /** True once the bound has passed: new requests are refused with 503. */
  get refusing(): boolean {
    return this.#refusing
  }

  /** Starts counting drained requests. */
  beginDrain(): void {
    if (this.#draining) return
    this.#draining = true
    this.inFlightAtDrain = this.#flights.length
  }

  /** Runs the rest of the request, answerable early by `abortAll()`. */
  async run(ex: Exchange, next: Next): Promise<void> {
    const flight = new Flight(ex)
    capturing = flight
    const answered = new Promise<void>(capture)
    const flights = this.#flights
    flight.index = flights.length
    flights.push(flight)
    try {
      let work: Promise<void>
      try {
        work = next()
      } catch (error) {
        work = Promise.reject(error)
      }
      // After abortAll() resolved the flight, a late rejection lands on a settled
      // promise: handled, never an unhandled rejection.
      work.then(flight.resolve, flight.reject)
      await answered
    } finally {
      const last = flights.pop() as Flight
      if (last !== flight) {
        flights[flight.index] = last
        last.index = flight.index
      }
      if (this.#draining && !flight.aborted) this.drained++
      if (flights.length === 0 && this.#waiters.length > 0) this.#wake()
    }
  }

  /** Answers a request that arrives after the bound, without running it. */
  refuse(ex: Exchange, problem: Problem): void {
    this.aborted++
    respondProblem(ex, problem)
  }

  /** Resolves when no request is in flight. */
  empty(): Promise<void> {
    if (this.#flights.length === 0) return Promise.resolve()
    return new Promise<void>((resolve) => this.#waiters.push(resolve))
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }

  /**
   * The bound: answers every request still running with `problem` (unless it already
   * answered), lets its middleware return, and aborts its signal with a `ShutdownError`
   * after the current macrotask — aborting inline would make a Hono handler's rejection
   * race the 503 onto the response, as the deadline middleware explains. From now on new
   * requests are refused. Returns how many were aborted.
   */
  abortAll(problem: Problem): number {
    this.#refusing = true
    let count = 0
    // A copy: resolving a flight lets its request remove itself, a few microtasks later.
    for (const flight of [...this.#flights]) {
      if (flight.aborted) continue
      flight.aborted = true
      count++
      const ex = flight.ex
      try {
        if (!ex.responded) respondProblem(ex, problem)
      } catch {
        // A broken exchange must not stop the others from being answered.
      }
      this.#aborts.push(ex)
      flight.resolve()
    }
    this.aborted += count
    if (count > 0) this.#clock.setTimeout(this.#flushAborts, 0)
    return count
  }

  readonly #flushAborts = (): void => {
    const batch = this.#aborts
    this.#aborts = []
    const reason = new ShutdownError('Server is shutting down: drain bound reached')
    for (const ex of batch) ex.abort(reason)
  }
}

/** One request in flight. */
class Flight {
  readonly ex: Exchange
  index = -1
  aborted = false
  resolve!: () => void
  reject!: (error: unknown) => void
  constructor(ex: Exchange) {
    this.ex = ex
  }
}

let capturing: Flight | undefined

/** The executor of every flight's promise: hands the resolvers to the flight being built. */
function capture(resolve: () => void, reject: (error: unknown) => void): void {
  const flight = capturing as Flight
  flight.resolve = resolve
  flight.reject = reject
  capturing = undefined
}
