/**
 * @module
 * `@sturdy/timeout`: deadlines that cancel work, end to end. A per-call `timeout()`
 * policy (cooperative or aggressive, abort-on-return), a per-request `deadline()`
 * middleware (one request signal for deadline, client disconnect and shutdown; 504 at
 * once; incoming `grpc-timeout` / `connect-timeout-ms` / `x-request-timeout-ms`),
 * helpers to pass the remaining budget on to outgoing calls, a shared timer wheel so
 * none of it costs a `setTimeout` per request, and `group()`: Go's errgroup for promises.
 */
export type { CallBudgetOptions } from './budget.ts'
export { callBudget } from './budget.ts'
export type {
  DeadlineMiddleware,
  DeadlineOptions,
  DeadlineReason,
  DeadlineVariables,
} from './deadline.ts'
export { DEADLINE_KEY, deadline } from './deadline.ts'
export type {
  Group,
  GroupFailure,
  GroupOptions,
  GroupResults,
  GroupTask,
  GroupTaskContext,
} from './group.ts'
export { concurrent, GroupError, group, isGroupError } from './group.ts'
export type {
  HeaderSource,
  HeaderTarget,
  IncomingTimeoutOptions,
  StampOptions,
} from './headers.ts'
export {
  CONNECT_TIMEOUT_HEADER,
  formatGrpcTimeout,
  GRPC_TIMEOUT_HEADER,
  parseGrpcTimeout,
  parseTimeoutMs,
  readIncomingTimeout,
  stampDeadline,
  TIMEOUT_HEADER,
} from './headers.ts'
export type { RouteBudgets } from './routes.ts'
export type { TimeoutBudget, TimeoutMode, TimeoutOptions, TimeoutPolicy } from './timeout.ts'
export { timeout } from './timeout.ts'
export type { TimerWheel, TimerWheelOptions, WheelTarget, WheelTimer } from './timer-wheel.ts'
export { timerWheel } from './timer-wheel.ts'
