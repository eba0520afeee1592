import { describe, expect, it } from 'vitest'
import {
  PROBLEM_CONTENT_TYPE,
  problemFromError,
  problemHeaders,
  problemResponse,
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

  it("problemFromError keeps a Sturdy error's finite retryAfterMs, rounded, and drops any other", () => {
    class Broken extends SturdyError {
      constructor(readonly retryAfterMs: number) {
        super('BROKEN_CIRCUIT', 'Circuit "x" is open', 503)
      }
    }
    expect(problemFromError(new Broken(4950.062818000002))).toEqual({
      title: 'Service Unavailable',
      status: 503,
      code: 'BROKEN_CIRCUIT',
      detail: 'Circuit "x" is open',
      retryAfterMs: 4950,
    })
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(problemFromError(new Broken(bad))).not.toHaveProperty('retryAfterMs')
    }
    // Not a Sturdy error: a bare 500, whatever it carries.
    expect(problemFromError(Object.assign(new Error('x'), { retryAfterMs: 10 }))).toEqual({
      title: 'Internal Server Error',
      status: 500,
    })
  })
})

describe('problemResponse', () => {
  it('renders a thrown value: status, problem+json body, content type', () => {
    const r = problemResponse(new TimeoutError('Deadline of 500 ms exceeded', 500))
    expect(r.status).toBe(504)
    expect(r.headers).toEqual({ 'content-type': PROBLEM_CONTENT_TYPE })
    expect(JSON.parse(r.body)).toEqual({
      title: 'Gateway Timeout',
      status: 504,
      code: 'TIMEOUT',
      detail: 'Deadline of 500 ms exceeded',
    })
  })

  it('renders unknown values as a bare 500 that leaks nothing', () => {
    for (const thrown of [new Error('password=hunter2'), 'oops', undefined, { status: 'x' }]) {
      const r = problemResponse(thrown)
      expect(r.status).toBe(500)
      expect(JSON.parse(r.body)).toEqual({ title: 'Internal Server Error', status: 500 })
    }
  })

  it('sends a problem as given, with Retry-After in whole seconds and a whole-ms retryAfterMs', () => {
    const r = problemResponse({
      title: 'Service Unavailable',
      status: 503,
      code: 'BROKEN_CIRCUIT',
      retryAfterMs: 4950.062818000002,
    })
    expect(r.status).toBe(503)
    expect(r.headers).toEqual({ 'content-type': PROBLEM_CONTENT_TYPE, 'retry-after': '5' })
    expect(r.body).toBe(
      '{"title":"Service Unavailable","status":503,"code":"BROKEN_CIRCUIT","retryAfterMs":4950}',
    )
  })

  it('gives an error carrying retryAfterMs the same answer as the problem it maps to', () => {
    class Broken extends SturdyError {
      readonly retryAfterMs = 1500.4
      constructor() {
        super('BROKEN_CIRCUIT', 'open', 503)
      }
    }
    const fromError = problemResponse(new Broken())
    expect(fromError.headers['retry-after']).toBe('2')
    expect(JSON.parse(fromError.body).retryAfterMs).toBe(1500)
    expect(problemResponse(problemFromError(new Broken()))).toEqual(fromError)
  })

  it('Retry-After is at least 1 s; a retryAfterMs that is not a finite non-negative number is dropped', () => {
    expect(
      problemResponse({ title: 't', status: 503, retryAfterMs: 0 }).headers['retry-after'],
    ).toBe('1')
    for (const bad of [Number.NaN, -5, 'soon', null]) {
      const r = problemResponse({ title: 't', status: 503, retryAfterMs: bad })
      expect(r.headers).toEqual({ 'content-type': PROBLEM_CONTENT_TYPE })
      expect(JSON.parse(r.body)).toEqual({ title: 't', status: 503 })
    }
  })

  it('never renders a stack', () => {
    expect(problemResponse({ title: 'x', status: 500, stack: 'at secret' }).body).not.toContain(
      'secret',
    )
  })
})
