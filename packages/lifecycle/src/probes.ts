import { PROBLEM_CONTENT_TYPE, renderProblem, statusTitle } from '@sturdy/core'
import type { Check, CheckResult } from './checks.ts'

/** Where the service is in its life. */
export type LifecycleState = 'serving' | 'draining' | 'stopped'

/** Which probe: liveness (`/healthz`) or readiness (`/readyz`). */
export type ProbeKind = 'liveness' | 'readiness'

/** A probe's answer, ready for any framework or a bare `node:http` response. */
export interface ProbeResponse {
  /** 200 when passing, 503 when failing. */
  readonly status: number
  /** `content-type` (JSON, or problem+json when failing) and `cache-control: no-store`. */
  readonly headers: Readonly<Record<string, string>>
  /**
   * Passing: `{ "state": "serving", "checks": { "db": { "status": "pass", "durationMs": 2 } } }`.
   * Failing: RFC 9457 problem+json with `code` (`DRAINING`, `NOT_READY`, `STOPPED`),
   * `state` and, for readiness, every check's result. Error messages are never included
   * (they go to the log when a check changes state).
   */
  readonly body: string
}

const OK_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
}
const FAIL_HEADERS: Readonly<Record<string, string>> = {
  'content-type': PROBLEM_CONTENT_TYPE,
  'cache-control': 'no-store',
}

/**
 * Liveness: the process can serve. It passes while serving and while draining (a
 * draining pod must not be restarted mid-drain) and fails only once stopped. It never
 * looks at dependencies or load: a liveness failure restarts the pod, which never fixes
 * a slow database.
 */
export function livenessResponse(state: LifecycleState): ProbeResponse {
  if (state !== 'stopped') return { status: 200, headers: OK_HEADERS, body: `{"state":"${state}"}` }
  return failing('STOPPED', 'The server has stopped', state, undefined)
}

/**
 * Readiness: not draining, and every check passes. Draining answers 503 at once without
 * running the checks; otherwise the checks run in parallel, each bounded by its own
 * timeout, so the probe never waits longer than the slowest check's timeout.
 */
export async function readinessResponse(
  state: () => LifecycleState,
  checks: readonly Check[],
): Promise<ProbeResponse> {
  if (state() !== 'serving')
    return failing('DRAINING', 'The server is draining', state(), undefined)
  const results = await Promise.all(checks.map((check) => check.result()))
  const byName: Record<string, CheckResult> = {}
  const failed: string[] = []
  for (let i = 0; i < checks.length; i++) {
    const name = (checks[i] as Check).name
    const result = results[i] as CheckResult
    byName[name] = publicResult(result)
    if (result.status === 'fail') failed.push(name)
  }
  // The state may have changed while the checks ran: a drain always wins.
  const now = state()
  if (now !== 'serving') return failing('DRAINING', 'The server is draining', now, byName)
  if (failed.length > 0) {
    return failing('NOT_READY', `Failing checks: ${failed.join(', ')}`, now, byName)
  }
  return {
    status: 200,
    headers: OK_HEADERS,
    body: JSON.stringify({ state: now, checks: byName }),
  }
}

function publicResult(result: CheckResult): CheckResult {
  const durationMs = Math.round(result.durationMs)
  return result.reason === undefined
    ? { status: result.status, durationMs }
    : { status: result.status, reason: result.reason, durationMs }
}

function failing(
  code: string,
  detail: string,
  state: LifecycleState,
  checks: Record<string, CheckResult> | undefined,
): ProbeResponse {
  const problem = { title: statusTitle(503), status: 503, code, detail, state, checks }
  return { status: 503, headers: FAIL_HEADERS, body: renderProblem(problem) }
}
