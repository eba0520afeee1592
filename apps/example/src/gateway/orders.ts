import { isBrokenCircuitError } from '@sturdy/breaker'
import { isConnectionError, isHttpStatusError, isPoolSaturatedError } from '@sturdy/client'
import type { RequestValues } from '@sturdy/core'
import { linkSignals, problemFromError, TimeoutError } from '@sturdy/core'
import type { TimerWheel } from '@sturdy/timeout'
import { group, isGroupError } from '@sturdy/timeout'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { Downstream } from './downstream.ts'
import type { UsersApi } from './users-api.ts'

/** An order as the gateway's `POST /orders` accepts it. */
export const OrderInput = z.object({
  userId: z.string().regex(/^[1-9][0-9]{0,17}$/, 'expected a user id (a positive whole number)'),
  items: z
    .array(
      z.object({
        sku: z.string().trim().min(1).max(64),
        quantity: z.int().min(1).max(100),
        priceCents: z.int().min(1).max(10_000_000),
      }),
    )
    .min(1)
    .max(50),
  currency: z.enum(['EUR', 'USD', 'GBP']).default('EUR'),
  address: z.object({
    street: z.string().trim().min(1).max(200),
    city: z.string().trim().min(1).max(100),
    country: z.string().regex(/^[A-Z]{2}$/, 'expected an ISO 3166 alpha-2 country code'),
  }),
})
/** A validated order. */
export type OrderInput = z.infer<typeof OrderInput>

/** What `processOrder` answers: a status and a JSON body (a problem when ≥ 400). */
export interface OrderOutcome {
  status: 201 | 422 | 502 | 503 | 504 | 409 | 500
  body: Record<string, unknown>
  /** Whether a retry with the same key may run the order again (nothing was left behind). */
  retryable: boolean
}

/** The two steps of an order, in `group()` order. */
const STEPS = ['payment', 'delivery'] as const
type Step = (typeof STEPS)[number]

/** What one step did, as far as the gateway can tell. */
type StepState =
  | { state: 'succeeded'; value: Record<string, unknown> }
  /** It failed before anything could have happened on the other side. */
  | { state: 'failed'; error: unknown; sideEffect: false }
  /** It failed, but the other side may have done it (sent, no answer). */
  | { state: 'failed'; error: unknown; sideEffect: true }
  /** The group cancelled it when the other step failed. */
  | { state: 'cancelled' }

/** One compensating action and how it went. */
export interface Compensation {
  step: Step
  action: 'refund' | 'cancel-delivery'
  outcome: 'done' | 'nothing-to-undo' | 'failed' | 'pending'
}

/** What `processOrder` needs. */
export interface OrderDeps {
  users: UsersApi
  down: Downstream
  wheel: TimerWheel
  /** The order's own budget (the article's 5 s). */
  deadlineMs: number
  log: Logger
}

/**
 * The article's processOrder: check the user, then charge the payment and schedule the
 * delivery concurrently with `group()` under one deadline — the smaller of the order's
 * 5 s and what the caller left us, minus a reserve to compensate and answer. The first
 * failure cancels the other step; whatever may have happened is then undone (a refund,
 * a cancelled delivery, both idempotent by order id) and the problem says which step
 * failed and what was compensated.
 */
export async function processOrder(
  order: OrderInput,
  orderId: string,
  request: { signal: AbortSignal; deadline: number | undefined; values: RequestValues },
  deps: OrderDeps,
): Promise<OrderOutcome> {
  const user = await deps.users.get(order.userId, request.values)
  if (user === undefined) {
    return {
      status: 422,
      retryable: true,
      body: {
        title: 'Unprocessable Content',
        status: 422,
        detail: `No user with id ${order.userId}`,
        code: 'UNKNOWN_USER',
        errors: [{ path: 'userId', message: 'no such user' }],
      },
    }
  }

  const now = deps.wheel.clock.now()
  const left = request.deadline === undefined ? Number.POSITIVE_INFINITY : request.deadline - now
  // Keep back a fifth of the caller's time (at most 250 ms) to compensate and answer.
  const reserve = Math.min(250, Math.max(0, left) / 5)
  const deadline = Math.min(now + deps.deadlineMs, now + left - reserve)
  const budgetMs = Math.max(0, Math.round(deadline - now))
  const timer = new AbortController()
  const fired = deps.wheel.schedule(deadline, () =>
    timer.abort(new TimeoutError(`Order deadline of ${budgetMs} ms exceeded`, budgetMs)),
  )
  const linked = linkSignals(request.signal, timer.signal)
  const states: Partial<Record<Step, StepState>> = {}
  const g = group<Record<string, unknown>>({ signal: linked.signal })
  const amountCents = order.items.reduce((sum, i) => sum + i.quantity * i.priceCents, 0)
  const { client, urls } = deps.down
  // Each call carries the order's deadline (sent on as x-request-timeout-ms) and the
  // group's signal, plus the request's trace and request id.
  const callContext = (signal: AbortSignal) => ({
    get: (key: string) =>
      key === 'signal'
        ? signal
        : key === 'deadline'
          ? deadline
          : (request.values as { get(k: string): unknown }).get(key),
  })
  const step = (name: Step, call: (signal: AbortSignal) => Promise<Record<string, unknown>>) =>
    g.go(async ({ signal }) => {
      try {
        const value = await call(signal)
        states[name] = { state: 'succeeded', value }
        return value
      } catch (error) {
        states[name] =
          signal.aborted && error === signal.reason
            ? { state: 'cancelled' }
            : { state: 'failed', error, sideEffect: mayHaveHappened(error) }
        throw error
      }
    })
  step('payment', (signal) =>
    client.json(`${urls.payments}/charges`, {
      method: 'POST',
      headers: { 'idempotency-key': `${orderId}:charge` },
      json: { orderId, userId: user.id, amountCents, currency: order.currency },
      context: callContext(signal),
    }),
  )
  step('delivery', (signal) =>
    client.json(`${urls.delivery}/deliveries`, {
      method: 'POST',
      headers: { 'idempotency-key': `${orderId}:delivery` },
      json: { orderId, address: order.address },
      context: callContext(signal),
    }),
  )

  try {
    const [payment, delivery] = await g.wait()
    return {
      status: 201,
      retryable: false,
      body: {
        orderId,
        status: 'confirmed',
        userId: user.id,
        totalCents: amountCents,
        currency: order.currency,
        payment: { id: payment?.id, status: payment?.status },
        delivery: { id: delivery?.id, eta: delivery?.eta },
      },
    }
  } catch (error) {
    return await failed(error, orderId, states, request, deps)
  } finally {
    fired.cancel()
    linked.dispose()
  }
}

/** Whether the other side may have acted on a call that failed this way. */
function mayHaveHappened(error: unknown): boolean {
  // An answer (any status) means the service decided; an open circuit or a full pool
  // means nothing was sent; a connection refused before sending, the same.
  if (isHttpStatusError(error) || isBrokenCircuitError(error) || isPoolSaturatedError(error)) {
    return false
  }
  if (isConnectionError(error)) return error.sent
  // Timeouts and anything else: it may have reached the service.
  return true
}

async function failed(
  error: unknown,
  orderId: string,
  states: Partial<Record<Step, StepState>>,
  request: { deadline: number | undefined },
  deps: OrderDeps,
): Promise<OrderOutcome> {
  // The group's error names every failure; a deadline or the caller leaving comes as
  // the abort reason itself.
  const failures = isGroupError(error)
    ? error.failures.map((f) => ({ step: STEPS[f.index]!, error: f.error }))
    : STEPS.filter((s) => states[s]?.state !== 'succeeded').map((s) => ({ step: s, error }))
  const cause = failures[0]?.error ?? error
  const failedStep = failures[0]?.step ?? 'payment'

  const compensations = await compensate(orderId, states, request, deps)
  const problem = problemFromError(cause)
  const why = causeOf(cause)
  // A dependency that ran out of the time we gave it is a gateway timeout here too.
  const upstreamTimeout = isHttpStatusError(cause) && cause.upstreamStatus === 504
  const status = (
    upstreamTimeout ? 504 : problem.status >= 500 ? problem.status : 502
  ) as OrderOutcome['status']
  const detail =
    `The ${failedStep} step failed (${why.code}${why.detail ? `: ${why.detail}` : ''})` +
    (compensations.length > 0
      ? `; compensation: ${compensations.map(describe).join(', ')}.`
      : '; nothing to compensate.')
  deps.log.warn(
    { order_id: orderId, failed_step: failedStep, compensation: compensations },
    'order failed',
  )
  return {
    status,
    // A retry with the same key may run the order again once nothing is left half-done.
    retryable: compensations.every((c) => c.outcome === 'done' || c.outcome === 'nothing-to-undo'),
    body: {
      title: 'Order failed',
      status,
      code: 'ORDER_FAILED',
      detail,
      orderId,
      failedStep,
      cause: why,
      steps: Object.fromEntries(STEPS.map((s) => [s, states[s]?.state ?? 'not-started'])),
      compensation: compensations,
      ...(problem.retryAfterMs === undefined ? {} : { retryAfterMs: problem.retryAfterMs }),
    },
  }
}

const describe = (c: Compensation) => {
  switch (c.outcome) {
    case 'done':
      return c.action === 'refund' ? 'payment refunded' : 'delivery cancelled'
    case 'nothing-to-undo':
      return c.action === 'refund'
        ? 'no payment was taken (a late charge will be refused)'
        : 'no delivery was scheduled (a late one will be refused)'
    case 'pending':
      return `${c.action === 'refund' ? 'refund' : 'cancellation'} still running`
    case 'failed':
      return `${c.action === 'refund' ? 'refund' : 'cancellation'} FAILED (needs attention)`
  }
}

/** The failed step's cause in a few words: the upstream's own status and code when it answered. */
function causeOf(error: unknown): { code: string; status: number; detail: string | undefined } {
  const problem = problemFromError(error)
  if (isHttpStatusError(error)) {
    const upstreamCode = typeof error.problem?.code === 'string' ? ` ${error.problem.code}` : ''
    return {
      code: typeof problem.code === 'string' ? problem.code : 'HTTP_STATUS',
      status: problem.status,
      detail: `${new URL(error.url).host} answered ${error.upstreamStatus}${upstreamCode}`,
    }
  }
  return {
    code: typeof problem.code === 'string' ? problem.code : 'ERROR',
    status: problem.status,
    detail: typeof problem.detail === 'string' ? problem.detail : undefined,
  }
}

/** How long a compensating call may take; it runs detached from the request. */
const COMPENSATION_BUDGET_MS = 3000

/**
 * Undoes every step that succeeded or may have: a refund, a cancelled delivery. The
 * calls are detached from the request (they must finish even when the caller has gone),
 * idempotent by order id, and leave a tombstone downstream, so a step still in flight
 * is refused when it arrives. The answer waits for them while the request has time;
 * one still running then is reported `pending` and finishes in the background.
 */
async function compensate(
  orderId: string,
  states: Partial<Record<Step, StepState>>,
  request: { deadline: number | undefined },
  deps: OrderDeps,
): Promise<Compensation[]> {
  const { undo, urls } = deps.down
  const needed = STEPS.filter((s) => {
    const st = states[s]
    // Never started: nothing to undo. Failed with an answer: the service did nothing.
    return st !== undefined && (st.state !== 'failed' || st.sideEffect)
  })
  const results: Compensation[] = needed.map((s) => ({
    step: s,
    action: s === 'payment' ? 'refund' : 'cancel-delivery',
    outcome: 'pending',
  }))
  const runs = results.map(async (entry) => {
    try {
      const url =
        entry.step === 'payment' ? `${urls.payments}/refunds` : `${urls.delivery}/cancellations`
      const answer = await undo.json<{ refunded?: boolean; cancelled?: boolean }>(url, {
        method: 'POST',
        // Safe to repeat: refunds and cancellations are idempotent by order id.
        idempotent: true,
        headers: { 'idempotency-key': `${orderId}:undo-${entry.step}` },
        json: { orderId },
        timeoutMs: COMPENSATION_BUDGET_MS,
      })
      entry.outcome = (answer.refunded ?? answer.cancelled) ? 'done' : 'nothing-to-undo'
    } catch (error) {
      entry.outcome = 'failed'
      deps.log.error({ err: error, order_id: orderId, step: entry.step }, 'compensation failed')
    }
  })
  const all = Promise.all(runs)
  const left =
    request.deadline === undefined
      ? COMPENSATION_BUDGET_MS
      : request.deadline - deps.wheel.clock.now() - 20
  if (left <= 0) return results.map((r) => ({ ...r }))
  let timer: { cancel(): void } | undefined
  await Promise.race([
    all,
    new Promise<void>((resolve) => {
      timer = deps.wheel.schedule(deps.wheel.clock.now() + left, resolve)
    }),
  ])
  timer?.cancel()
  // A snapshot: entries still running keep changing in the background.
  return results.map((r) => ({ ...r }))
}
