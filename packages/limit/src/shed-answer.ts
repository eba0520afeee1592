import type { Problem, ShedReason } from '@sturdy/core'
import { problemResponse, statusTitle } from '@sturdy/core'

/** A response rendered once and sent as is to every shed request. */
export interface ShedAnswer {
  readonly status: number
  readonly body: string
  readonly headers: Readonly<Record<string, string>>
}

/**
 * The middleware's answers, one per reason, rendered at construction so that shedding
 * a request costs one `respond()` and no allocation of its own. 503 with `Retry-After`
 * for a full limiter; 504 (no retry hint: a retry has the same deadline) for a deadline
 * that cannot be met.
 */
export function shedAnswers(
  retryAfterMs: number,
): Record<Exclude<ShedReason, 'throttled'>, ShedAnswer> {
  const overloaded = (reason: ShedReason): ShedAnswer =>
    render({
      title: statusTitle(503),
      status: 503,
      code: 'OVERLOADED',
      detail: 'The server is overloaded; retry later.',
      reason,
      retryAfterMs,
    })
  return {
    limit: overloaded('limit'),
    'queue-full': overloaded('queue-full'),
    'queue-timeout': overloaded('queue-timeout'),
    pressure: overloaded('pressure'),
    deadline: render({
      title: statusTitle(504),
      status: 504,
      code: 'OVERLOADED',
      detail: 'The request cannot be served before its deadline.',
      reason: 'deadline',
    }),
  }
}

/** Rendered once by core's one problem renderer, then frozen and reused. */
function render(problem: Problem): ShedAnswer {
  const answer = problemResponse(problem)
  return Object.freeze({
    status: answer.status,
    body: answer.body,
    headers: Object.freeze(answer.headers),
  })
}
