import type { DescMethod } from '@bufbuild/protobuf'
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt'
import type { Interceptor } from '@connectrpc/connect'
import { Code, ConnectError } from '@connectrpc/connect'
import type { Events, RetryEventMap } from '@sturdy/core'
import { isCircuitRejection, isTimeoutError, RPC_CODES, systemClock } from '@sturdy/core'
import type { RetryBudget, RetryBudgetOptions, RetryOptions, RetryPolicy } from '@sturdy/retry'
import { doNotRetry, isRetryBudgetExhaustedError, retry, retryBudget } from '@sturdy/retry'
import type { AnyRequest, AnyResponse } from './call.ts'
import { callDeadline, setAttempt } from './call.ts'
import { isRefusedStream, lostConnectionAsUnavailable, PUSHBACK_HEADER } from './errors.ts'

/** Options of `clientRetry()`: `@sturdy/retry`'s, less what the interceptor decides. */
export interface ClientRetryOptions
  extends Omit<
    RetryOptions,
    'retryOn' | 'retryOnResult' | 'deadline' | 'budget' | 'discardResult' | 'pushback'
  > {
  /**
   * The shared retry budget (Finagle-style): a `RetryBudget` shared with other clients
   * of the same dependency, options for one owned by this interceptor (every call
   * through it shares it), or `false` for none.
   * @default {} (20% of calls + 10 retries/s)
   */
  budget?: RetryBudget | RetryBudgetOptions | false
  /**
   * Retry calls to methods the proto does not mark `NO_SIDE_EFFECTS` or `IDEMPOTENT`.
   * Only for methods you know are safe to repeat (they dedupe by a request id).
   * @default false
   */
  retryNonIdempotent?: boolean
}

/** The retry interceptor, with the policy behind it (for `policyMetrics().observe`, `traceEvents`). */
export type ClientRetryInterceptor = Interceptor & {
  readonly kind: 'retry'
  readonly name: string
  readonly events: Events<RetryEventMap>
  /** The `@sturdy/retry` policy making the decisions. */
  readonly policy: RetryPolicy
}

/**
 * A client interceptor that retries unary calls the way gRFC A6 describes, with
 * `@sturdy/retry` making the decisions (backoff with full jitter, the call's deadline,
 * a shared retry budget, pushback):
 *
 * - only UNAVAILABLE is retried, and RESOURCE_EXHAUSTED when the server sent
 *   `grpc-retry-pushback-ms`; the pushback replaces the backoff, a negative one stops;
 * - only methods the proto marks `option idempotency_level = NO_SIDE_EFFECTS` or
 *   `IDEMPOTENT` (streams never: their messages cannot be replayed);
 * - no attempt and no sleep past the call's deadline (the request's and the call's own
 *   `timeoutMs`, whichever is earlier);
 * - an open circuit (`clientBreaker()` inside this one) fails the call at once;
 * - every retry carries `grpc-previous-rpc-attempts`.
 *
 * Place it first (outermost), then the observers, breaker and `clientDeadline()`.
 *
 * @param options `@sturdy/retry` options (3 attempts by default), budget, `retryNonIdempotent`
 * @returns a Connect interceptor with `kind`, `name`, `events` and `policy`
 * @example
 * const transport = createGrpcTransport({
 *   baseUrl: 'http://127.0.0.1:50051',
 *   interceptors: [clientRetry({ maxAttempts: 4 }), clientBreaker(), clientDeadline()],
 * })
 */
export function clientRetry(options: ClientRetryOptions = {}): ClientRetryInterceptor {
  const { budget: budgetOption, retryNonIdempotent = false, ...rest } = options
  const budget =
    budgetOption === false
      ? undefined
      : isBudget(budgetOption)
        ? budgetOption
        : retryBudget({ ...budgetOption, clock: options.clock })
  const policy = retry({
    name: 'rpc-client',
    ...rest,
    budget,
    retryOn: isRetryableFailure,
    // An unread `UnaryResponse` holds nothing to release.
    discardResult: () => {},
  })
  const clock = options.clock ?? systemClock
  const interceptor: Interceptor = (next) =>
    async function retryInterceptor(req) {
      if (req.stream) return next(req)
      // A method not safe to repeat is retried only when the server provably never
      // processed the attempt (HTTP/2 REFUSED_STREAM, as after a GOAWAY).
      const refusedOnly = !(retryNonIdempotent || isSafeToRetry(req.method))
      const deadline = callDeadline(req, clock)
      let lastError: unknown
      let lastEnd = 0
      const attempt = async ({ attempt: n, signal }: { attempt: number; signal: AbortSignal }) => {
        if (n > 1) {
          req.header.set('grpc-previous-rpc-attempts', String(n - 1))
          setAttempt(req.contextValues, {
            attempt: n,
            resend: { after: codeName(lastError), delayMs: Math.max(0, clock.now() - lastEnd) },
          })
        }
        try {
          return await next({ ...req, signal } as AnyRequest)
        } catch (thrown) {
          const error = lostConnectionAsUnavailable(thrown)
          lastError = error
          lastEnd = clock.now()
          if (refusedOnly && !isRefusedStream(error)) throw doNotRetry(error)
          // The breaker's own rejection, so the retry policy fails fast on it.
          throw error instanceof ConnectError && isCircuitRejection(error.cause)
            ? error.cause
            : error
        }
      }
      try {
        return (await policy
          .withDeadline(deadline === Number.POSITIVE_INFINITY ? undefined : deadline)
          .execute(attempt, req.signal)) as AnyResponse
      } catch (error) {
        throw asConnectError(error, lastError)
      }
    }
  return Object.defineProperties(interceptor, {
    kind: { value: 'retry', enumerable: true },
    name: { value: policy.name, enumerable: true },
    events: { value: policy.events, enumerable: true },
    policy: { value: policy, enumerable: true },
  }) as ClientRetryInterceptor
}

/**
 * True when the proto says calling `method` twice is safe: `option idempotency_level`
 * `NO_SIDE_EFFECTS` or `IDEMPOTENT`.
 *
 * @param method a method descriptor (`UserService.method.getUser`)
 * @returns whether a retry may repeat it
 * @example isSafeToRetry(UserService.method.getUser) // true for NO_SIDE_EFFECTS
 */
export function isSafeToRetry(method: Pick<DescMethod, 'idempotency'>): boolean {
  return (
    method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ||
    method.idempotency === MethodOptions_IdempotencyLevel.IDEMPOTENT
  )
}

/**
 * The retry rule of gRFC A6: UNAVAILABLE (the server did not process the call), and
 * RESOURCE_EXHAUSTED only when the server said when to come back. An open circuit's
 * rejection reaches the policy as itself, and the policy fails it fast.
 */
function isRetryableFailure(error: unknown): boolean {
  if (isCircuitRejection(error) || isRefusedStream(error)) return true
  if (!(error instanceof ConnectError)) return false
  if (error.code === Code.Unavailable) return true
  return error.code === Code.ResourceExhausted && error.metadata.get(PUSHBACK_HEADER) !== null
}

/** What the caller gets: the last attempt's status, never a policy's own error class. */
function asConnectError(error: unknown, lastError: unknown): unknown {
  if (error instanceof ConnectError) return error
  if (isCircuitRejection(error) && lastError instanceof ConnectError) return lastError
  if (isRetryBudgetExhaustedError(error) && lastError instanceof ConnectError) return lastError
  if (isTimeoutError(error)) {
    return new ConnectError(
      'the deadline of the call passed',
      Code.DeadlineExceeded,
      undefined,
      undefined,
      error,
    )
  }
  return error
}

function codeName(error: unknown): string {
  return error instanceof ConnectError ? (RPC_CODES[error.code] ?? 'UNKNOWN') : 'UNKNOWN'
}

function isBudget(value: unknown): value is RetryBudget {
  return typeof (value as RetryBudget | undefined)?.tryWithdraw === 'function'
}
