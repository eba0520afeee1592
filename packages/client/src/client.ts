import type { KeyedBreaker } from '@sturdy/breaker'
import { deadlineOutcome, keyedBreaker } from '@sturdy/breaker'
import type {
  ClientInterceptor,
  Clock,
  HedgeEventMap,
  LimitEventMap,
  ObservablePolicy,
  OutgoingRequest,
  OutgoingResend,
  Policy,
  PolicyContext,
  RequestValues,
  RetryEventMap,
  TraceContext,
} from '@sturdy/core'
import {
  abortKind,
  isIdempotentMethod,
  isTimeoutError,
  neverAborts,
  outgoingErrorType,
  systemClock,
} from '@sturdy/core'
import type { ConcurrencyLimiter, LimitPermit } from '@sturdy/limit'
import { isOverloadSignal, isThrottledError } from '@sturdy/limit'
import type { RetryPolicy } from '@sturdy/retry'
import type { TimerWheel } from '@sturdy/timeout'
import { timerWheel } from '@sturdy/timeout'
import type { BodyLike, PreparedBody } from './body.ts'
import { fromStream, prepareBody } from './body.ts'
import { SignalFanout } from './call-signal.ts'
import {
  ClientTimeoutError,
  isClientTimeoutError,
  isConnectionError,
  PoolSaturatedError,
} from './errors.ts'
import { EventHub } from './event-hub.ts'
import type {
  CallOptions,
  ClientOptions,
  ClientRequestInit,
  OriginOptions,
  OriginSettings,
} from './options.ts'
import { CLIENT_DEFAULTS, headerRecord, resolveOrigin } from './options.ts'
import type { OriginState } from './origin.ts'
import { createOrigin, DEADLINE, RETRYABLE } from './origin.ts'
import { outgoingContext, stampBudget, stampTrace } from './propagation.ts'
import { Attempt } from './transport.ts'
import type { Base, Split } from './url.ts'
import { displayUrl, originParts, parseBase, splitUrl } from './url.ts'

/** How a call waits for its answer. */
export type CallMode = 'buffer' | 'stream'

/** A call's final answer, before it is turned into a `Response` or a JSON value. */
export interface Answer {
  readonly attempt: Attempt
  readonly method: string
  /** Origin and path, no query: for messages. */
  readonly url: string
  /** The full URL, for `Response.url` and redirects. */
  readonly href: string
  /** Why the call's body could not be sent again, when a retry was refused for it. */
  readonly refused: string | undefined
}

/** The request a call starts from, whatever shape the caller used. */
interface Start {
  readonly input: string | URL
  readonly method: string
  readonly headers: Record<string, string>
  readonly body: PreparedBody
  readonly signal: AbortSignal | undefined
}

/**
 * The engine behind `createClient()`: origins (pools, policies), the call pipeline and
 * redirects. The public `Client` wraps it with `fetch` and `json`.
 */
export class Engine {
  readonly breakers: KeyedBreaker
  readonly retryEvents: EventHub<RetryEventMap> = new EventHub<RetryEventMap>()
  readonly hedgeEvents: EventHub<HedgeEventMap> = new EventHub<HedgeEventMap>()
  readonly limitEvents: EventHub<LimitEventMap> = new EventHub<LimitEventMap>()
  readonly policies: readonly ObservablePolicy[]
  readonly #options: ClientOptions
  readonly #base: Base | undefined
  readonly #interceptors: readonly ClientInterceptor[]
  readonly #clock: Clock
  readonly #wheel: TimerWheel
  readonly #maxOrigins: number
  readonly #redirect: NonNullable<RequestInit['redirect']>
  /** Normalized origin → state, oldest first (second-chance eviction). */
  readonly #origins = new Map<string, OriginState & { used: boolean }>()
  /** Origin as written → state: skips normalizing on every call. */
  readonly #aliases = new Map<string, OriginState & { used: boolean }>()
  readonly #settings = new Map<string, OriginSettings>()
  readonly #fanout = new SignalFanout()
  #closed = false

  constructor(options: ClientOptions) {
    this.#options = options
    this.#base = options.baseUrl === undefined ? undefined : parseBase(options.baseUrl)
    this.#interceptors = [...(options.interceptors ?? [])]
    this.#clock = options.wheel?.clock ?? options.clock ?? systemClock
    this.#wheel = options.wheel ?? timerWheel({ clock: this.#clock })
    this.#maxOrigins = Math.max(1, options.maxOrigins ?? CLIENT_DEFAULTS.maxOrigins)
    this.#redirect = options.redirect ?? 'follow'
    // Validates the defaults at once, not on the first call.
    resolveOrigin(options, undefined)
    this.breakers = keyedBreaker({
      name: 'client',
      maxKeys: this.#maxOrigins,
      breaker: (origin) => {
        const b = this.#settingsOf(origin).breaker
        if (b === false) return {}
        const { minBudgetMs: _, ...options } = b
        return { openMs: CLIENT_DEFAULTS.openMs, ...options }
      },
      ...(options.clock === undefined ? {} : { clock: this.#clock }),
    })
    this.policies = [
      { kind: 'retry', name: 'client', events: this.retryEvents },
      this.breakers,
      { kind: 'hedge', name: 'client', events: this.hedgeEvents },
      { kind: 'limit', name: 'client', events: this.limitEvents },
    ]
  }

  /** Runs a call to its final answer, following redirects. */
  async run(
    input: string | URL | Request,
    init: ClientRequestInit | undefined,
    mode: CallMode,
  ): Promise<Answer> {
    if (this.#closed) throw new TypeError('The client is closed')
    const started = this.#start(input, init, mode)
    const start = started instanceof Promise ? await started : started
    const values = init?.context
    const context = outgoingContext(values)
    // One signal per call, fed through one shared listener per caller signal.
    const a = start.signal
    const b = context.signal === a ? undefined : context.signal
    const own =
      a === undefined
        ? b === undefined
          ? undefined
          : this.#fanout.link([b])
        : this.#fanout.link(b === undefined ? [a] : [a, b])
    const signal = own?.signal
    let deadline = context.deadline
    const timeoutMs = init?.timeoutMs
    if (timeoutMs !== undefined) {
      const own = this.#clock.now() + timeoutMs
      if (deadline === undefined || own < deadline) deadline = own
    }
    // The retry must not sleep past the deadline. When the context's signal carries it
    // (deadline() aborts the request signal at the deadline), that signal already cuts
    // any sleep and each attempt is bounded on the wheel: the retry's own deadline timer
    // and controllers (measured at tens of µs per call) would add nothing.
    const covered = context.signal !== undefined && deadline === context.deadline
    const redirect = init?.redirect ?? this.#redirect
    let current = start
    try {
      for (let hop = 0; ; hop++) {
        const answer = await this.#once(
          current,
          init,
          values,
          context.trace,
          context.requestId,
          signal,
          deadline,
          covered,
          mode,
        )
        const next = redirect === 'manual' ? undefined : redirected(answer, current)
        if (next === undefined) {
          // A streamed body stays bound to the caller's signals until it is done.
          if (own !== undefined) answer.attempt.onDone(own.dispose)
          return answer
        }
        answer.attempt.discard()
        if (redirect === 'error') {
          throw new TypeError(`Redirect from ${answer.url} refused (redirect: 'error')`)
        }
        if (hop >= 20) throw new TypeError(`Too many redirects from ${answer.url}`)
        current = next
      }
    } catch (error) {
      own?.dispose()
      throw error
    }
  }

  /** Pool statistics of an origin, or undefined when it has none yet. */
  stats(origin: string): PoolStatsLike | undefined {
    let key: string
    try {
      key = originParts(origin).origin
    } catch {
      return undefined
    }
    const state = this.#origins.get(key)
    return state === undefined ? undefined : (state.dispatcher as { stats?: PoolStatsLike }).stats
  }

  async close(): Promise<void> {
    this.#closed = true
    const all = [...this.#origins.values()]
    this.#origins.clear()
    this.#aliases.clear()
    await Promise.all(all.map((o) => o.close()))
  }

  /** The call's request; a promise only when its body must be read first. */
  #start(
    input: string | URL | Request,
    init: ClientRequestInit | undefined,
    mode: CallMode,
  ): Start | Promise<Start> {
    let method = 'GET'
    let headers: Record<string, string>
    let bodySource: BodyLike
    let signal: AbortSignal | undefined
    let url: string | URL
    if (typeof input === 'object' && !(input instanceof URL)) {
      const request = input as Request
      url = request.url
      method = request.method
      headers = headerRecord(request.headers)
      bodySource = request.body
      signal = request.signal
    } else {
      url = input
      headers = {}
    }
    if (init !== undefined) {
      if (init.method !== undefined) method = normalizeMethod(init.method)
      if (init.headers !== undefined) Object.assign(headers, headerRecord(init.headers))
      if (init.json !== undefined) {
        bodySource = JSON.stringify(init.json)
        headers['content-type'] ??= 'application/json'
      } else if (init.body !== undefined) {
        bodySource = init.body as BodyLike
      }
      if (init.signal !== undefined && init.signal !== null) signal = init.signal
    }
    if (mode === 'buffer') headers.accept ??= 'application/json'
    if (
      bodySource !== null &&
      bodySource !== undefined &&
      (method === 'GET' || method === 'HEAD')
    ) {
      throw new TypeError(`A ${method} request cannot have a body`)
    }
    if (bodySource === null || bodySource === undefined) {
      return { input: url, method, headers, body: NO_BODY, signal }
    }
    // Only a body needs the origin's settings before the call starts.
    const limit = this.#settingsOf(
      originParts(splitUrl(url, this.#base).origin).origin,
    ).maxReplayBytes
    const prepared =
      typeof input === 'object' && !(input instanceof URL) && bodySource === input.body
        ? fromStream(bodySource as ReadableStream<Uint8Array>, undefined, limit, undefined)
        : prepareBody(bodySource, limit)
    const withBody = (body: PreparedBody): Start => {
      if (body.contentType !== undefined) headers['content-type'] ??= body.contentType
      return { input: url, method, headers, body, signal }
    }
    return prepared instanceof Promise ? prepared.then(withBody) : withBody(prepared)
  }

  async #once(
    start: Start,
    init: CallOptions | undefined,
    values: RequestValues | undefined,
    trace: TraceContext | undefined,
    requestId: string | undefined,
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    covered: boolean,
    mode: CallMode,
  ): Promise<Answer> {
    const split = splitUrl(start.input, this.#base)
    const origin = this.#originOf(split)
    const s = origin.settings
    const headers =
      origin.settings.headers === NO_HEADERS ? start.headers : { ...s.headers, ...start.headers }
    if (requestId !== undefined && s.requestIdHeader !== false) {
      headers[s.requestIdHeader] ??= requestId
    }
    // Headers are lower-case here: a direct lookup, not @sturdy/retry's scan of every key.
    const key = headers['idempotency-key']
    const idempotent =
      init?.idempotent ?? (isIdempotentMethod(start.method) || (key !== undefined && key !== ''))
    const call = new Call(
      this,
      origin,
      start.method,
      split.target,
      headers,
      start.body,
      values,
      trace,
      deadline,
      mode,
      init,
      idempotent,
    )
    // Hedging is for calls that are safe to send twice, by the retry's rule, with a
    // body that can be sent again; the others keep the origin's retry.
    const hedged =
      init?.retry !== false &&
      origin.hedge !== undefined &&
      idempotent &&
      start.body.notReplayable === undefined
    const retryPolicy = init?.retry === false ? undefined : hedged ? origin.hedge : origin.retry

    let attempt: Attempt
    try {
      if (retryPolicy === undefined) {
        attempt = await call.attempt({ signal: signal ?? NEVER, attempt: 1 })
      } else {
        const policy: Policy =
          deadline !== undefined && !covered && isRetryPolicy(retryPolicy)
            ? retryPolicy.withDeadline(deadline)
            : retryPolicy
        attempt = await policy.execute(call.attempt, signal)
      }
    } catch (caught) {
      let error = caught
      // The retry's own deadline timer may beat ours to it: report the deadline one way.
      // The caller's reason (the request's deadline, a disconnect) passes through.
      if (isTimeoutError(error) && !isClientTimeoutError(error) && error !== signal?.reason) {
        error = new ClientTimeoutError('deadline', undefined, { cause: error })
      }
      // Say why a failure that could have been retried was not.
      if (call.refused !== undefined && (isConnectionError(error) || isClientTimeoutError(error))) {
        error.message += ` (not retried: ${call.refused})`
      }
      throw error
    }
    // The winner of a hedge ran on a signal of the hedge's own, which lets go of the
    // caller once the call is decided: a streamed body must still stop when the caller
    // gives up, as a retried call's does.
    if (hedged && signal !== undefined && mode === 'stream') bindBody(attempt, signal)
    return {
      attempt,
      method: start.method,
      url: displayUrl(origin.origin, split.target),
      href: origin.origin + split.target,
      refused: call.refused,
    }
  }

  #originOf(split: Split): OriginState & { used: boolean } {
    const alias = this.#aliases.get(split.origin)
    if (alias !== undefined) {
      alias.used = true
      return alias
    }
    const parts = originParts(split.origin)
    let state = this.#origins.get(parts.origin)
    if (state === undefined) {
      state = Object.assign(
        createOrigin(parts, this.#settingsOf(parts.origin), {
          dispatcher: this.#options.dispatcher,
          breakers: this.breakers,
          retryEvents: this.retryEvents,
          hedgeEvents: this.hedgeEvents,
          limitEvents: this.limitEvents,
          clock: this.#options.clock,
          random: this.#options.random,
        }),
        { used: true },
      )
      this.#origins.set(parts.origin, state)
      if (this.#origins.size > this.#maxOrigins) this.#evict()
    }
    if (this.#aliases.size >= this.#maxOrigins * 4) this.#aliases.clear()
    this.#aliases.set(split.origin, state)
    return state
  }

  /** Second chance: the oldest origin not used since the last sweep is closed. */
  #evict(): void {
    for (const [key, state] of this.#origins) {
      if (state.used) {
        state.used = false
        this.#origins.delete(key)
        this.#origins.set(key, state)
        continue
      }
      this.#origins.delete(key)
      for (const [alias, s] of this.#aliases) if (s === state) this.#aliases.delete(alias)
      this.breakers.delete(key)
      state.close().catch(() => {})
      return
    }
  }

  #settingsOf(origin: string | undefined): OriginSettings {
    const key = origin ?? ''
    let settings = this.#settings.get(key)
    if (settings === undefined) {
      settings = resolveOrigin(
        this.#options,
        origin === undefined ? undefined : this.#ownOptions(origin),
      )
      if (Object.keys(settings.headers).length === 0) {
        settings = { ...settings, headers: NO_HEADERS }
      }
      if (this.#settings.size > this.#maxOrigins * 2) this.#settings.clear()
      this.#settings.set(key, settings)
    }
    return settings
  }

  #ownOptions(origin: string): OriginOptions | undefined {
    const table = this.#options.origins
    if (table === undefined) return undefined
    const direct = table[origin]
    if (direct !== undefined) return direct
    for (const [key, value] of Object.entries(table)) {
      try {
        if (originParts(key).origin === origin) return value
      } catch {
        throw new TypeError(`origins: ${JSON.stringify(key)} is not an http(s) origin`)
      }
    }
    return undefined
  }

  get interceptors(): readonly ClientInterceptor[] {
    return this.#interceptors
  }

  get wheel(): TimerWheel {
    return this.#wheel
  }
}

/** What `client.stats()` reports: undici's pool statistics. */
export interface PoolStatsLike {
  /** Open connections. */
  readonly connected: number
  /** Open connections with no request. */
  readonly free: number
  /** Requests waiting for a connection. */
  readonly pending: number
  /** Requests queued on connections. */
  readonly queued: number
  /** Requests in progress. */
  readonly running: number
  /** Everything active, pending or queued. */
  readonly size: number
}

const NEVER: AbortSignal = neverAborts()
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})
const NO_BODY: PreparedBody = Object.freeze({
  data: null,
  contentType: undefined,
  notReplayable: undefined,
})

/** Aborts `attempt`'s body when `signal` aborts, until the body is done. */
function bindBody(attempt: Attempt, signal: AbortSignal): void {
  if (signal.aborted) {
    attempt.abort(signal.reason)
    return
  }
  const onAbort = (): void => attempt.abort(signal.reason)
  signal.addEventListener('abort', onAbort, { once: true })
  attempt.onDone(() => signal.removeEventListener('abort', onAbort))
}

function isRetryPolicy(policy: Policy): policy is RetryPolicy {
  return typeof (policy as RetryPolicy).withDeadline === 'function'
}

const STANDARD_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH'])

/** fetch's method normalization: the standard methods upper-cased, others kept. */
function normalizeMethod(method: string): string {
  if (STANDARD_METHODS.has(method)) return method
  const upper = method.toUpperCase()
  return STANDARD_METHODS.has(upper) ? upper : method
}

/** The next hop of a redirect (fetch's rules), or undefined when `answer` is not one. */
function redirected(answer: Answer, current: Start): Start | undefined {
  const a = answer.attempt
  const status = a.status
  if (status !== 301 && status !== 302 && status !== 303 && status !== 307 && status !== 308) {
    return undefined
  }
  const location = a.header('location')
  if (location === undefined) return undefined
  const next = new URL(location, answer.href)
  let method = current.method
  let body = current.body
  const headers = { ...current.headers }
  if (
    status === 303 ? method !== 'HEAD' : (status === 301 || status === 302) && method === 'POST'
  ) {
    method = 'GET'
    body = { data: null, contentType: undefined, notReplayable: undefined }
    for (const h of [
      'content-type',
      'content-length',
      'content-encoding',
      'content-language',
      'content-location',
    ]) {
      delete headers[h]
    }
  } else if (body.notReplayable !== undefined) {
    return undefined // fetch fails here; we hand back the 3xx
  }
  if (next.origin !== new URL(answer.href).origin) {
    for (const h of ['authorization', 'cookie', 'proxy-authorization']) delete headers[h]
  }
  return { input: next, method, headers, body, signal: current.signal }
}

/**
 * One logical call: the state its attempts share, and `attempt`, the function the
 * retry policy runs once per attempt.
 */
class Call {
  /** Why a retry was refused only because the body cannot be sent again. */
  refused: string | undefined
  readonly #engine: Engine
  readonly #origin: OriginState
  readonly #method: string
  readonly #target: string
  readonly #headers: Record<string, string>
  readonly #body: PreparedBody
  readonly #values: RequestValues | undefined
  readonly #trace: TraceContext | undefined
  readonly #deadline: number
  readonly #mode: CallMode
  readonly #attemptMs: number
  readonly #headersTimeoutMs: number
  readonly #bodyTimeoutMs: number
  readonly #idempotent: boolean
  #lastEnd = 0
  #lastErrorType = ''
  #firstStart = 0

  constructor(
    engine: Engine,
    origin: OriginState,
    method: string,
    target: string,
    headers: Record<string, string>,
    body: PreparedBody,
    values: RequestValues | undefined,
    trace: TraceContext | undefined,
    deadline: number | undefined,
    mode: CallMode,
    init: CallOptions | undefined,
    idempotent: boolean,
  ) {
    const s = origin.settings
    this.#engine = engine
    this.#origin = origin
    this.#method = method
    this.#target = target
    this.#headers = headers
    this.#body = body
    this.#values = values
    this.#trace = trace
    this.#deadline = deadline ?? Number.POSITIVE_INFINITY
    this.#mode = mode
    this.#attemptMs = init?.attemptTimeoutMs ?? s.attemptTimeoutMs
    this.#headersTimeoutMs = init?.headersTimeoutMs ?? s.headersTimeoutMs
    this.#bodyTimeoutMs = init?.bodyTimeoutMs ?? s.bodyTimeoutMs
    this.#idempotent = idempotent
  }

  /** One attempt: headers for the next hop, the interceptors, the breaker, the wire. */
  readonly attempt = (ctx: PolicyContext): Promise<Attempt> => {
    const engine = this.#engine
    const s = this.#origin.settings
    const now = engine.wheel.clock.now()
    const left = this.#deadline - now
    if (left <= 0) {
      return Promise.reject(mark(new ClientTimeoutError('deadline'), false))
    }
    const headers = { ...this.#headers }
    const budget = Math.min(left, this.#attemptMs) - s.marginMs
    if (budget !== Number.POSITIVE_INFINITY) {
      const stamp = s.deadlineHeaders
      if (
        stamp !== false &&
        stamp.header === undefined &&
        stamp.grpc !== true &&
        stamp.connect !== true
      ) {
        // The default: one plain header, written with a constant name (a monomorphic
        // store; stampDeadline's computed one goes megamorphic on the hot path).
        headers['x-request-timeout-ms'] = String(budget > 0 ? Math.floor(budget) : 0)
      } else {
        stampBudget(headers, Math.max(0, budget), stamp)
      }
    }
    if (this.#trace !== undefined) stampTrace(headers, this.#trace)
    const signal = ctx.signal === NEVER ? undefined : ctx.signal
    const interceptors = engine.interceptors
    if (interceptors.length === 0) return this.#send(headers, signal, now)
    let resend: OutgoingResend | undefined
    if (ctx.attempt === 1) this.#firstStart = now
    else if (this.#lastErrorType === '') {
      // A hedge: no attempt failed, the previous one was slow.
      resend = { after: 'hedge', delayMs: Math.max(0, now - this.#firstStart) }
    } else resend = { after: this.#lastErrorType, delayMs: Math.max(0, now - this.#lastEnd) }
    const o = this.#origin
    const request: OutgoingRequest = {
      method: this.#method,
      scheme: o.scheme,
      host: o.host,
      port: o.port,
      target: this.#target,
      headers,
      attempt: ctx.attempt,
      resend,
      values: this.#values,
    }
    const n = interceptors.length
    const step = (i: number): Promise<Attempt> =>
      i === n
        ? this.#send(request.headers, signal, now)
        : ((interceptors[i] as ClientInterceptor)(request, () => step(i + 1)) as Promise<Attempt>)
    return step(0)
  }

  async #send(
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    now: number,
  ): Promise<Attempt> {
    const o = this.#origin
    const s = o.settings
    if (o.inFlight >= s.connections + s.maxQueued) {
      throw this.#failed(mark(new PoolSaturatedError(o.origin, o.inFlight - s.connections), false))
    }
    let done: ((outcome: 'success' | 'failure' | 'excluded') => void) | undefined
    if (o.breakers !== undefined) {
      // The keyed set's LRU bookkeeping (a Map delete + set) is the costliest step of a
      // call's path when done per attempt: the origin keeps its breaker, and touches
      // the set about once a second so idle eviction still sees it in use.
      let breaker = o.breaker
      if (breaker === undefined || now - o.breakerTouched >= 1000) {
        breaker = o.breakers.get(o.origin)
        o.breaker = breaker
        o.breakerTouched = now
      }
      try {
        done = breaker.allow()
      } catch (error) {
        throw this.#failed(mark(error, false))
      }
    }
    const attempt = new Attempt(
      {
        method: this.#method,
        target: this.#target,
        headers,
        body: this.#body.data,
        mode: this.#mode,
        maxBytes: s.maxResponseBytes,
        headersTimeoutMs: this.#headersTimeoutMs,
        bodyTimeoutMs: this.#bodyTimeoutMs,
        connectTimeoutMs: s.connectTimeoutMs,
        attemptDue: now + this.#attemptMs,
        attemptMs: this.#attemptMs,
        deadlineDue: this.#deadline,
        signal,
      },
      this.#engine.wheel,
      o,
    )
    let permit: LimitPermit | undefined
    try {
      if (o.limiter !== undefined) permit = await this.#admit(o, signal)
      if (o.throttle === undefined) await attempt.run(o.dispatcher)
      else await o.throttle.execute(() => attempt.run(o.dispatcher), signal)
    } catch (error) {
      const callerGaveUp =
        signal?.aborted === true && signal.reason === error && abortKind(error) !== 'deadline'
      // A refusal of our own (limiter, throttle) never reached the origin.
      const local = (o.limiter !== undefined && permit === undefined) || isThrottledError(error)
      permit?.release(
        callerGaveUp || local ? 'ignore' : isOverloadSignal(error) ? 'dropped' : 'success',
      )
      if (local) {
        done?.('excluded')
        throw this.#failed(mark(error, false))
      }
      done?.(
        callerGaveUp || isTooLarge(error)
          ? 'excluded'
          : isDeadline(error, signal)
            ? deadlineOutcome(
                this.#deadline - now,
                s.breaker === false ? undefined : s.breaker.minBudgetMs,
              )
            : 'failure',
      )
      const retryable = !callerGaveUp && this.#mayRepeat(error, attempt.sent)
      if (retryable) (error as Marked)[DEADLINE] = this.#deadline
      throw this.#failed(mark(error, retryable))
    }
    const status = attempt.status
    permit?.release(status === 429 || status === 503 ? 'dropped' : 'success')
    done?.(status >= 500 || status === 429 || status === 408 ? 'failure' : 'success')
    if (o.statuses.has(status)) {
      const marked = attempt as unknown as Marked
      marked[RETRYABLE] = this.#mayRepeatSent()
      marked[DEADLINE] = this.#deadline
    }
    if (status >= 400) {
      this.#lastErrorType = String(status)
      this.#lastEnd = this.#engine.wheel.clock.now()
    }
    return attempt
  }

  /**
   * A slot of the origin's concurrency limiter, or its `OverloadedError` (with the
   * limiter's `retryAfterMs` and bounded stack). The signal matters only to work that
   * waits in a queue.
   */
  #admit(o: OriginState, signal: AbortSignal | undefined): Promise<LimitPermit> {
    const limiter = o.limiter as ConcurrencyLimiter
    return limiter.acquire('normal', limiter.maxQueue > 0 ? signal : undefined)
  }

  /** Records a failed attempt for the next one's `resend`, and hands the error back. */
  #failed(error: unknown): unknown {
    this.#lastErrorType = outgoingErrorType(error)
    this.#lastEnd = this.#engine.wheel.clock.now()
    return error
  }

  /** Whether a failed attempt may be repeated: never sent, or safe to send again. */
  #mayRepeat(error: unknown, sent: boolean): boolean {
    if (isClientTimeoutError(error)) {
      if (error.phase === 'deadline') return false
    } else if (!isConnectionError(error)) {
      return false
    }
    // Nothing reached the server (refused, connect timeout, still queued): any method,
    // any body (a stream is read only once it is written).
    if (!sent) return true
    return this.#mayRepeatSent()
  }

  /** Whether a call that reached the server may be sent again. */
  #mayRepeatSent(): boolean {
    if (!this.#idempotent) return false
    const why = this.#body.notReplayable
    if (why !== undefined) {
      this.refused = why
      return false
    }
    return true
  }
}

interface Marked {
  [RETRYABLE]?: boolean
  [DEADLINE]?: number
}

/**
 * Marks a failure the retry may repeat. Only the client's own errors (new per attempt)
 * are ever marked; anything unmarked is never retried.
 */
function mark(error: unknown, retryable: boolean): unknown {
  if (retryable) (error as Marked)[RETRYABLE] = true
  return error
}

/**
 * Whether an attempt ended on the call's deadline (not on its own `attemptTimeoutMs`):
 * the client's deadline timer, or the caller's signal aborting for its deadline.
 */
function isDeadline(error: unknown, signal: AbortSignal | undefined): boolean {
  if (error instanceof ClientTimeoutError) return error.phase === 'deadline'
  return signal?.aborted === true && signal.reason === error && abortKind(error) === 'deadline'
}

function isTooLarge(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'RESPONSE_TOO_LARGE'
}
