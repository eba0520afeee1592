import { createHash, randomUUID } from 'node:crypto'
import type { Queryable } from '../db/database.ts'

/** A stored answer, replayed for a retried request. */
export interface StoredResponse {
  status: number
  body: unknown
}

/** What claiming an idempotency key found. */
export type Claim =
  /** The key is ours: run the order under `orderId`. */
  | { kind: 'claimed'; orderId: string }
  /** The same request already finished: answer it again. */
  | { kind: 'replay'; orderId: string; response: StoredResponse }
  /** The key was used with a different body (422). */
  | { kind: 'mismatch' }
  /** The same request is running right now (409, try again shortly). */
  | { kind: 'in-progress' }

/** Order results keyed by `Idempotency-Key`, in the database. */
export interface IdempotencyStore {
  claim(key: string, requestHash: string, signal?: AbortSignal): Promise<Claim>
  /** Stores the final answer for the key. */
  complete(key: string, response: StoredResponse): Promise<void>
  /** Forgets the key (a failure that left nothing behind: a retry may run it again). */
  release(key: string): Promise<void>
}

/** How long a `pending` claim may stay before another request takes it over (a crash). */
const STALE_AFTER_S = 60

/**
 * The request's fingerprint: SHA-256 of its canonical JSON (keys sorted), so the same
 * body with keys in another order is the same request.
 */
export function requestHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex')
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

interface Row {
  request_hash: string
  order_id: string
  state: 'pending' | 'done'
  status: number | null
  response: unknown
  stale: boolean
}

/**
 * An `IdempotencyStore` on the app's database. Claims are one `INSERT ... ON CONFLICT
 * DO NOTHING`: of two requests with one key, exactly one runs.
 */
export function idempotencyStore(db: Queryable): IdempotencyStore {
  return {
    async claim(key, hash, signal) {
      const orderId = randomUUID()
      const inserted = await db.query<{ order_id: string }>(
        `INSERT INTO order_requests (idempotency_key, request_hash, order_id, state)
         VALUES ($1, $2, $3, 'pending')
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING order_id::text`,
        [key, hash, orderId],
        signal,
      )
      if (inserted[0] !== undefined) return { kind: 'claimed', orderId }
      const rows = await db.query<Row>(
        `SELECT request_hash, order_id::text AS order_id, state, status, response,
                updated_at < now() - make_interval(secs => $2) AS stale
         FROM order_requests WHERE idempotency_key = $1`,
        [key, STALE_AFTER_S],
        signal,
      )
      const row = rows[0]
      // Released between our insert and select: claim it again.
      if (row === undefined) return this.claim(key, hash, signal)
      if (row.request_hash !== hash) return { kind: 'mismatch' }
      if (row.state === 'done') {
        const body = typeof row.response === 'string' ? JSON.parse(row.response) : row.response
        return {
          kind: 'replay',
          orderId: row.order_id,
          response: { status: row.status ?? 200, body },
        }
      }
      if (!row.stale) return { kind: 'in-progress' }
      // The request that claimed it never finished (a crash): take the claim over.
      const taken = await db.query<{ order_id: string }>(
        `UPDATE order_requests SET order_id = $2, updated_at = now()
         WHERE idempotency_key = $1 AND state = 'pending' AND order_id = $3::uuid
         RETURNING order_id::text`,
        [key, orderId, row.order_id],
        signal,
      )
      return taken[0] === undefined ? { kind: 'in-progress' } : { kind: 'claimed', orderId }
    },
    async complete(key, response) {
      await db.query(
        `UPDATE order_requests
         SET state = 'done', status = $2, response = $3::jsonb, updated_at = now()
         WHERE idempotency_key = $1`,
        [key, response.status, JSON.stringify(response.body)],
      )
    },
    async release(key) {
      await db.query(
        `DELETE FROM order_requests WHERE idempotency_key = $1 AND state = 'pending'`,
        [key],
      )
    },
  }
}
