/**
 * Small facts about a Connect call that several interceptors need: which protocol it
 * speaks, its deadline, its attempt, and how to run code when a streamed response ends.
 */
import type {
  ContextValues,
  StreamRequest,
  StreamResponse,
  UnaryRequest,
  UnaryResponse,
} from '@connectrpc/connect'
import { createContextKey } from '@connectrpc/connect'
import type { Clock, OutgoingResend } from '@sturdy/core'
import { requestValue, VALUES } from '@sturdy/core'
import { parseGrpcTimeout, parseTimeoutMs } from '@sturdy/timeout'
import { callerValues } from './values.ts'

/** A Connect request, unary or streaming. */
export type AnyRequest = UnaryRequest | StreamRequest
/** A Connect response, unary or streaming. */
export type AnyResponse = UnaryResponse | StreamResponse

/** The wire protocol of a call, from its content type. */
export type WireProtocol = 'grpc' | 'grpc-web' | 'connect'

/**
 * The protocol a request speaks: Connect sets the content type before interceptors run,
 * on clients and servers alike (`application/grpc`, `application/grpc-web`, anything
 * else is the Connect protocol).
 */
export function protocolOf(header: Headers): WireProtocol {
  const type = header.get('content-type') ?? ''
  if (type.startsWith('application/grpc-web')) return 'grpc-web'
  if (type.startsWith('application/grpc')) return 'grpc'
  return 'connect'
}

/** OpenTelemetry's `rpc.system.name` for a protocol. */
export function systemOf(protocol: WireProtocol): string {
  return protocol === 'connect' ? 'connectrpc' : 'grpc'
}

/** The budget a request's deadline header announces, in ms, or undefined for none. */
export function announcedBudget(header: Headers): number | undefined {
  const grpc = parseGrpcTimeout(header.get('grpc-timeout'))
  if (grpc !== undefined) return grpc
  return parseTimeoutMs(header.get('connect-timeout-ms'))
}

const DEADLINE_KEY = createContextKey<number | undefined>(undefined, {
  description: '@sturdy/connect call deadline',
})

/**
 * A client call's absolute deadline on `clock`: the earlier of the caller's request
 * deadline (`callContext()`) and the call's own `timeoutMs` (which Connect has written
 * as a deadline header before interceptors run). Computed on the first attempt and kept
 * for the call, so later attempts do not re-read the header this package rewrites.
 */
export function callDeadline(req: AnyRequest, clock: Clock): number {
  const values = req.contextValues
  const known = values.get(DEADLINE_KEY)
  if (known !== undefined) return known
  const inbound = requestValue<number>(callerValues(values), VALUES.deadline)
  let deadline = typeof inbound === 'number' ? inbound : Number.POSITIVE_INFINITY
  const own = announcedBudget(req.header)
  if (own !== undefined) deadline = Math.min(deadline, clock.now() + own)
  values.set(DEADLINE_KEY, deadline)
  return deadline
}

/** The attempt a client interceptor is on, and why it is a resend. */
export interface AttemptInfo {
  readonly attempt: number
  readonly resend: OutgoingResend | undefined
}

const FIRST: AttemptInfo = Object.freeze({ attempt: 1, resend: undefined })

const ATTEMPT_KEY = createContextKey<AttemptInfo>(FIRST, {
  description: '@sturdy/connect attempt',
})

/** The attempt `clientRetry()` is on (1 without a retry). */
export function attemptOf(values: ContextValues): AttemptInfo {
  return values.get(ATTEMPT_KEY)
}

/** Records the attempt `clientRetry()` is about to make. */
export function setAttempt(values: ContextValues, info: AttemptInfo): void {
  values.set(ATTEMPT_KEY, info)
}

/**
 * Calls `fn` once when a response is done: a unary response at once; a streamed one
 * when its messages have been read to the end, or reading failed, or the reader
 * stopped early. The returned response carries the same messages.
 */
export function whenDone<R extends AnyResponse>(res: R, fn: (error: unknown) => void): R {
  if (!res.stream) {
    fn(undefined)
    return res
  }
  let called = false
  const done = (error: unknown): void => {
    if (called) return
    called = true
    fn(error)
  }
  const source = res.message
  const message: AsyncIterable<unknown> = {
    [Symbol.asyncIterator]() {
      const it = source[Symbol.asyncIterator]()
      return {
        async next() {
          try {
            const r = await it.next()
            if (r.done === true) done(undefined)
            return r
          } catch (error) {
            done(error)
            throw error
          }
        },
        async return(value?: unknown) {
          done(undefined)
          return (await it.return?.(value)) ?? { done: true, value: undefined }
        },
        async throw(error?: unknown) {
          done(error)
          if (it.throw !== undefined) return it.throw(error)
          throw error
        },
      }
    },
  }
  return { ...res, message } as R
}
