import { describe, expect, it } from 'vitest'
import {
  PROBLEM_CONTENT_TYPE,
  problemFromError,
  problemHeaders,
  renderProblem,
  SturdyError,
  statusTitle,
  TimeoutError,
  ValidationError,
} from './index.ts'

describe('problem+json', () => {
  it('uses the RFC 9457 media type', () => {
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json')
  })

  it('renders a Sturdy error with its status, code and detail', () => {
    expect(problemFromError(new TimeoutError('Deadline of 100 ms exceeded'))).toEqual({
      title: 'Gateway Timeout',
      status: 504,
      code: 'TIMEOUT',
      detail: 'Deadline of 100 ms exceeded',
    })
  })

  it('names the failing fields of a validation error', () => {
    const p = problemFromError(
      new ValidationError('Invalid body', [{ path: 'email', message: 'Invalid email' }]),
    )
    expect(p).toMatchObject({ status: 400, errors: [{ path: 'email', message: 'Invalid email' }] })
  })

  it('turns unknown errors into a bare 500 that leaks nothing', () => {
    const secret = new Error('password=hunter2 at db.internal:5432')
    const body = renderProblem(problemFromError(secret))
    expect(JSON.parse(body)).toEqual({ title: 'Internal Server Error', status: 500 })
    expect(body).not.toContain('hunter2')
  })

  it('hides the message of a 5xx Sturdy error that is not exposable', () => {
    const p = problemFromError(new SturdyError('DB', 'connection string postgres://u:p@h', 500))
    expect(p).toEqual({ title: 'Internal Server Error', status: 500, code: 'DB' })
  })

  it('never renders a stack, even when one is put on the problem', () => {
    const body = renderProblem({ title: 'x', status: 500, stack: 'at secret (file.ts:1)' })
    expect(body).not.toContain('stack')
  })

  it('has titles for common statuses and a fallback', () => {
    expect(statusTitle(413)).toBe('Content Too Large')
    expect(statusTitle(599)).toBe('Error')
  })

  it('problemHeaders gives Retry-After in whole seconds, at least 1, only for a finite retryAfterMs', () => {
    expect(problemHeaders({ retryAfterMs: 1500 })).toEqual({ 'retry-after': '2' })
    expect(problemHeaders({ retryAfterMs: 0 })).toEqual({ 'retry-after': '1' })
    for (const v of [undefined, null, 'x', { retryAfterMs: Number.NaN }, { retryAfterMs: -1 }]) {
      expect(problemHeaders(v)).toEqual({})
    }
  })
})
