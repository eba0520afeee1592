/**
 * @module
 * `@sturdy/core`: the contracts every Sturdy package is written against — server
 * middleware and the Exchange, policies and `compose()`, deadlines and signals,
 * branded errors, problem+json, clock/random seams and typed events. Zero runtime
 * dependencies and web-standard APIs only, so it runs wherever `AbortSignal` does.
 */
export type { AbortSubscriber } from './abort-fanout.ts'
export { AbortFanout } from './abort-fanout.ts'
export type { Clock, Random, TimerHandle } from './clock.ts'
export { systemClock, systemRandom } from './clock.ts'
export type { AbortKind, CircuitRejection, FieldIssue, SturdyErrorOptions } from './errors.ts'
export {
  abortKind,
  BROKEN_CIRCUIT_CODE,
  ClientClosedError,
  errorGuard,
  isCircuitRejection,
  isClientClosedError,
  isPayloadTooLargeError,
  isRequestTimeoutError,
  isShutdownError,
  isSturdyError,
  isTimeoutError,
  isValidationError,
  lowerStackLimit,
  PayloadTooLargeError,
  RequestTimeoutError,
  restoreStackLimit,
  ShutdownError,
  SturdyError,
  TimeoutError,
  ValidationError,
} from './errors.ts'
export type { Disposer, Emitter, Events } from './events.ts'
export { createEmitter } from './events.ts'
export type {
  CombinedVariables,
  Exchange,
  Middleware,
  Next,
  NoVariables,
  VariablesOf,
} from './exchange.ts'
export { chain, respondProblem, UNMATCHED_ROUTE } from './exchange.ts'
export { attachExchange, exchangeOf } from './exchange-of.ts'
export { isIdempotentMethod, normalizeMethod, OTHER_METHOD } from './http.ts'
export type {
  BreakerEventMap,
  ChaosEventMap,
  ChaosKind,
  ChaosMark,
  CircuitState,
  HedgeEventMap,
  LimitEventMap,
  LimitPriority,
  LimitStats,
  ObservablePolicy,
  RateLimitEventMap,
  RetryEventMap,
  ShedReason,
  TimeoutEventMap,
  TraceContext,
} from './observe.ts'
export { traceStateOf, VALUES } from './observe.ts'
export type {
  ClientInterceptor,
  IncomingResponse,
  OutgoingNext,
  OutgoingRequest,
  OutgoingResend,
  RequestValues,
} from './outgoing.ts'
export { outgoingErrorType, requestValue } from './outgoing.ts'
export type { Policy, PolicyContext, PolicyFn } from './policy.ts'
export { compose, neverAborts, noPolicy } from './policy.ts'
export type { Problem, ProblemResponse } from './problem.ts'
export {
  PROBLEM_CONTENT_TYPE,
  problemFromError,
  problemHeaders,
  problemResponse,
  renderProblem,
  statusTitle,
} from './problem.ts'
export { RequestSignal } from './request-signal.ts'
export type { BoundedRoutesOptions, RouteLabel } from './route-labels.ts'
export { boundedRoutes, OVERFLOW_ROUTE } from './route-labels.ts'
export type { RouteMatcher, RouteMatcherOptions } from './route-matcher.ts'
export { routeMatcher } from './route-matcher.ts'
export type { RpcCall, RpcCode, RpcInterceptor, RpcMetadata } from './rpc.ts'
export { RPC_CODES, rpcMethodName } from './rpc.ts'
export type { LinkedSignal } from './signals.ts'
export {
  deadlineIn,
  linkSignals,
  onAbort,
  outgoingBudget,
  remaining,
  throwIfAborted,
} from './signals.ts'
