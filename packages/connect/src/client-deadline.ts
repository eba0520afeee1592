import type { Interceptor } from '@connectrpc/connect'
import { Code, ConnectError } from '@connectrpc/connect'
import type { Clock } from '@sturdy/core'
import { abortKind, requestValue, VALUES } from '@sturdy/core'
import type { TimerWheel, WheelTimer } from '@sturdy/timeout'
import { formatGrpcTimeout, timerWheel } from '@sturdy/timeout'
import type { AnyRequest, AnyResponse } from './call.ts'
import { callDeadline, protocolOf, whenDone } from './call.ts'
import { lostConnectionAsUnavailable } from './errors.ts'
import { callerValues } from './values.ts'

/**
 * What an attempt's signal aborts with once its call is over: one shared AbortError.
 * `abort()` without a reason makes a DOMException, stack and all, for every call — about
 * 1% of a gateway's CPU at a thousand calls a second.
 */
const CALL_OVER = new DOMException('The call is over', 'AbortError')

/** Options of `clientDeadline()`. */
export interface ClientDeadlineOptions {
  /**
   * Time kept back from the remaining budget for the answer to travel home: the next
   * hop is told `remaining − marginMs`.
   * @default 5
   */
  marginMs?: number
  /**
   * Time source; the one the inbound request's deadline is on (`deadline()` and
   * `serverDeadline()` use `performance.now()` by default, as this does).
   * @default systemClock
   */
  clock?: Clock
  /**
   * Timer wheel the attempts' deadlines are scheduled on (share the server's).
   * @default a private `timerWheel({ clock })`
   */
  wheel?: TimerWheel
}

/**
 * A client interceptor that carries the inbound request's deadline to the next hop.
 * Per attempt it:
 *
 * - takes the call's deadline: the earlier of the request's (`callContext(c)`: an HTTP
 *   request's `deadline()`, or a gRPC call's `serverDeadline()`) and the call's own
 *   `timeoutMs`;
 * - fails at once with DEADLINE_EXCEEDED, without sending, when no budget is left;
 * - stamps the remaining budget minus `marginMs` in the protocol's header
 *   (`grpc-timeout` in the finest unit that fits 8 digits, or `connect-timeout-ms`),
 *   replacing what Connect wrote;
 * - aborts the attempt at the deadline (DEADLINE_EXCEEDED) and when the request's
 *   signal aborts: DEADLINE_EXCEEDED for its deadline, CANCELLED for a disconnect or
 *   shutdown — Connect on its own would report a Sturdy `TimeoutError` as CANCELLED.
 *
 * Put it inside `clientRetry()` so every attempt is stamped with what is left.
 *
 * @param options margin, clock, wheel
 * @returns a Connect interceptor
 * @example
 * import { createGrpcTransport } from '@connectrpc/connect-node'
 * import { clientDeadline, clientRetry } from '@sturdy/connect'
 *
 * const transport = createGrpcTransport({
 *   baseUrl: 'http://127.0.0.1:50051',
 *   interceptors: [clientRetry(), clientDeadline({ marginMs: 10 })],
 * })
 */
export function clientDeadline(options: ClientDeadlineOptions = {}): Interceptor {
  const marginMs = options.marginMs ?? 5
  if (!(marginMs >= 0)) throw new RangeError(`marginMs must be >= 0, got ${marginMs}`)
  const wheel = options.wheel ?? timerWheel({ clock: options.clock })
  const clock = wheel.clock
  return (next) =>
    async function deadlineInterceptor(req) {
      const deadline = callDeadline(req, clock)
      const inbound = requestValue<AbortSignal>(callerValues(req.contextValues), VALUES.signal)
      if (inbound?.aborted === true) throw fromAbort(inbound.reason)
      if (deadline === Number.POSITIVE_INFINITY && inbound === undefined) {
        try {
          return await next(req)
        } catch (error) {
          throw lostConnectionAsUnavailable(error)
        }
      }
      const left = deadline - clock.now()
      if (deadline !== Number.POSITIVE_INFINITY) {
        const budget = Math.floor(left - marginMs)
        if (budget <= 0) {
          throw new ConnectError(
            'deadline exceeded before the call was sent',
            Code.DeadlineExceeded,
          )
        }
        stamp(req, budget)
      }
      return new Attempt(req, inbound, wheel, deadline).run(next)
    }
}

/** One attempt's signal: the call's, the request's and the deadline's, whichever first. */
class Attempt {
  readonly #controller = new AbortController()
  readonly #req: AnyRequest
  readonly #inbound: AbortSignal | undefined
  #timer: WheelTimer | undefined

  constructor(req: AnyRequest, inbound: AbortSignal | undefined, wheel: TimerWheel, at: number) {
    this.#req = req
    this.#inbound = inbound
    req.signal.addEventListener('abort', this.#onCallAbort)
    inbound?.addEventListener('abort', this.#onInboundAbort)
    if (at !== Number.POSITIVE_INFINITY) this.#timer = wheel.schedule(at, this.#onDeadline)
  }

  async run(next: (req: AnyRequest) => Promise<AnyResponse>): Promise<AnyResponse> {
    let res: AnyResponse
    try {
      res = await next({ ...this.#req, signal: this.#controller.signal } as AnyRequest)
    } catch (error) {
      this.#release()
      // The transport reports our abort in its own words; the reason is the truth. A lost
      // connection is UNAVAILABLE for every interceptor above (breaker, observers, retry).
      const signal = this.#controller.signal
      throw signal.aborted && signal.reason instanceof ConnectError
        ? signal.reason
        : lostConnectionAsUnavailable(error)
    }
    return whenDone(res, this.#finish)
  }

  /** Like Connect's own call signal, the attempt's aborts once the call is over. */
  readonly #finish = (): void => {
    this.#release()
    this.#controller.abort(CALL_OVER)
  }

  readonly #onCallAbort = (): void => this.#abort(fromAbort(this.#req.signal.reason))
  readonly #onInboundAbort = (): void => this.#abort(fromAbort(this.#inbound?.reason))
  readonly #onDeadline = (): void => {
    this.#timer = undefined
    this.#abort(new ConnectError('the deadline of the call passed', Code.DeadlineExceeded))
  }

  #abort(reason: unknown): void {
    this.#release()
    this.#controller.abort(reason)
  }

  readonly #release = (): void => {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#req.signal.removeEventListener('abort', this.#onCallAbort)
    this.#inbound?.removeEventListener('abort', this.#onInboundAbort)
  }
}

/** The inbound request's abort, as the status its caller should see. */
function fromAbort(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason
  const kind = abortKind(reason)
  if (kind === 'deadline') {
    return new ConnectError(
      'the request deadline passed',
      Code.DeadlineExceeded,
      undefined,
      undefined,
      reason,
    )
  }
  return new ConnectError('the request was cancelled', Code.Canceled, undefined, undefined, reason)
}

/** Writes the budget in the callee's protocol, replacing Connect's own header. */
function stamp(req: AnyRequest, budgetMs: number): void {
  const header = req.header
  if (protocolOf(header) === 'connect') {
    header.delete('grpc-timeout')
    header.set('connect-timeout-ms', String(Math.min(budgetMs, 9_999_999_999)))
  } else {
    header.delete('connect-timeout-ms')
    header.set('grpc-timeout', formatGrpcTimeout(budgetMs))
  }
}
