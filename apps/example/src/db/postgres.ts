import type { PoolClient } from 'pg'
import pg from 'pg'
import type { Logger } from 'pino'
import type { Database, Queryable } from './database.ts'
import { abortable } from './database.ts'

/** Options of `postgresDatabase`. */
export interface PostgresOptions {
  url: string
  logger: Logger
  /** Most pooled connections. @default 10 */
  max?: number
}

/**
 * PostgreSQL through node-postgres. A statement whose signal aborts rejects at once
 * and is cancelled on the server (`pg_cancel_backend` from another connection), so a
 * request past its deadline stops using the database too.
 */
export function postgresDatabase(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    // A database that does not answer must fail readiness and requests, not hang them.
    connectionTimeoutMillis: 2000,
    idleTimeoutMillis: 10_000,
    application_name: 'sturdy-example',
  })
  // An idle client whose server went away emits 'error' on the pool; unhandled, that
  // would crash the process. The next query gets a fresh connection.
  pool.on('error', (error) => options.logger.warn({ err: error }, 'idle database connection lost'))

  const onClient = (client: PoolClient): Queryable => ({
    query: (sql, params, signal) => runOn(pool, client, sql, params, signal),
  })

  return {
    kind: 'postgres',
    async query<R>(sql: string, params?: readonly unknown[], signal?: AbortSignal) {
      signal?.throwIfAborted()
      const connecting = pool.connect()
      // Aborted while waiting for a connection: hand it back as soon as it comes.
      const client = await abortable(connecting, signal, () => {
        connecting.then((c) => c.release()).catch(() => {})
      })
      const work = client.query(sql, params as unknown[] | undefined)
      // The connection goes back to the pool only once the statement has ended.
      work.then(
        () => client.release(),
        () => client.release(),
      )
      const result = await abortable(work, signal, () => cancel(pool, client))
      return result.rows as R[]
    },
    async transaction(fn) {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const result = await fn(onClient(client))
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        throw error
      } finally {
        client.release()
      }
    },
    async ping(signal) {
      await this.query('SELECT 1', [], signal)
    },
    close: () => pool.end(),
  }
}

async function runOn<R>(
  pool: pg.Pool,
  client: PoolClient,
  sql: string,
  params: readonly unknown[] | undefined,
  signal: AbortSignal | undefined,
): Promise<R[]> {
  const work = client.query(sql, params as unknown[] | undefined)
  const result = await abortable(work, signal, () => cancel(pool, client))
  return result.rows as R[]
}

/** Asks the server to stop the statement running on `client` (from another connection). */
function cancel(pool: pg.Pool, client: PoolClient): void {
  const pid = (client as unknown as { processID?: number }).processID
  if (pid !== undefined) pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => {})
}
