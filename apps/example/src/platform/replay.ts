import { ValidationError } from '@sturdy/core'
import type { Context } from 'hono'
import { requestHash } from '../gateway/idempotency.ts'
import { BoundedMap } from './bounded-map.ts'
import { problem } from './service.ts'

interface Entry {
  hash: string
  status: 200 | 201
  body: unknown
}

/**
 * Idempotent POSTs for a downstream service, in memory: the caller's `Idempotency-Key`
 * makes a retried call (the gateway's client retries POSTs that carry one) return the
 * first answer instead of charging twice. Bounded to the most recent keys.
 */
export function replayLedger(max = 10_000) {
  const entries = new BoundedMap<string, Entry>(max)
  return {
    /**
     * Runs `create` once per key: a repeat with the same body gets the first answer
     * again (with `idempotent-replayed: true`), one with another body 422.
     */
    async once(
      c: Context,
      body: unknown,
      create: () =>
        | Promise<{ status: 200 | 201; body: unknown }>
        | { status: 200 | 201; body: unknown },
    ): Promise<Response> {
      const key = c.req.header('idempotency-key')
      if (key === undefined || key.length === 0 || key.length > 200) {
        throw new ValidationError('An Idempotency-Key header (1–200 characters) is required', [
          { path: 'Idempotency-Key', message: 'required' },
        ])
      }
      const hash = requestHash(body)
      const seen = entries.get(key)
      if (seen !== undefined) {
        if (seen.hash !== hash) {
          return problem(c, 422, 'This Idempotency-Key was used with a different request body', {
            code: 'IDEMPOTENCY_KEY_REUSED',
          })
        }
        c.header('idempotent-replayed', 'true')
        return c.json(seen.body, seen.status)
      }
      const answer = await create()
      entries.set(key, { hash, ...answer })
      return c.json(answer.body, answer.status)
    },
  }
}
