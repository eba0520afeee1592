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
 * and is cancelled on the server (`pg_cancel_backend`, sent from one connection outside
 * the pool), so a request past its deadline stops using the database too.
 *
 * A cancel stops whatever its connection is running when it arrives. So a connection
 * whose statement was cancelled goes back to the pool only once the cancel has been
 * carried out: released any earlier, the cancel could stop the next caller's statement
 * on the same connection. A cancel that cannot be sent closes the connection instead.
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
  const cancels = canceller(options)

  const onClient = (client: PoolClient, cancelled: Cancelled): Queryable => ({
    query: <R>(sql: string, params?: readonly unknown[], signal?: AbortSignal) =>
      send<R>(client, cancels, cancelled, sql, params, signal).rows,
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
      const cancelled: Cancelled = { pending: undefined }
      const { work, rows } = send<R>(client, cancels, cancelled, sql, params, signal)
      // The connection goes back to the pool once the statement has ended and any
      // cancel sent for it has been carried out.
      const release = () => releaseAfter(client, cancelled)
      work.then(release, release)
      return rows
    },
    async transaction(fn) {
      const client = await pool.connect()
      const cancelled: Cancelled = { pending: undefined }
      let broken: unknown
      try {
        await client.query('BEGIN')
        const result = await fn(onClient(client, cancelled))
        await client.query('COMMIT')
        return result
      } catch (error) {
        // A failed ROLLBACK (a late cancel can stop it) leaves the transaction open:
        // that connection must not be reused.
        await client.query('ROLLBACK').catch((rollback: unknown) => {
          broken = rollback
        })
        throw error
      } finally {
        if (broken !== undefined) client.release(toError(broken))
        else void releaseAfter(client, cancelled)
      }
    },
    async ping(signal) {
      await this.query('SELECT 1', [], signal)
    },
    close: async () => {
      await Promise.all([pool.end(), cancels.end()])
    },
  }
}

/** The cancel sent for a connection's statement, if any: resolves true once carried out. */
interface Cancelled {
  pending: Promise<boolean> | undefined
}

async function releaseAfter(client: PoolClient, cancelled: Cancelled): Promise<void> {
  const done = cancelled.pending === undefined ? true : await cancelled.pending
  client.release(done ? undefined : new Error('statement cancel not confirmed'))
}

/**
 * Sends one statement on `client`: `work` settles when the statement ends, `rows` as soon
 * as the signal aborts (which sends the statement's cancel and records it in `cancelled`).
 */
function send<R>(
  client: PoolClient,
  cancels: Canceller,
  cancelled: Cancelled,
  sql: string,
  params: readonly unknown[] | undefined,
  signal: AbortSignal | undefined,
): { work: Promise<unknown>; rows: Promise<R[]> } {
  const work = client.query(sql, params as unknown[] | undefined)
  const rows = abortable(work, signal, () => {
    cancelled.pending = cancels.cancel(client)
  }).then((result) => result.rows as R[])
  return { work, rows }
}

interface Canceller {
  /** Asks the server to stop the statement running on `client`; true once it has. */
  cancel(client: PoolClient): Promise<boolean>
  end(): Promise<void>
}

/**
 * `pg_cancel_backend` from one connection of its own, opened on the first cancel and
 * closed after 10 s without one (as the pool closes its idle connections). Not from the
 * pool: when every pooled connection is running a statement to cancel, a cancel waiting
 * for one of them would wait for ever.
 */
function canceller(options: PostgresOptions): Canceller {
  let connection: Promise<pg.Client> | undefined
  let idle: NodeJS.Timeout | undefined
  const close = () => {
    const opened = connection
    connection = undefined
    return opened?.then((client) => client.end()).catch(() => {})
  }
  const open = (): Promise<pg.Client> => {
    clearTimeout(idle)
    idle = setTimeout(close, 10_000).unref()
    if (connection !== undefined) return connection
    const client = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: 2000,
      application_name: 'sturdy-example-cancel',
    })
    const opened = client.connect().then(() => client)
    const drop = (error: unknown) => {
      if (connection === opened) connection = undefined
      options.logger.warn({ err: error }, 'database cancel connection lost')
      client.end().catch(() => {})
    }
    client.on('error', drop)
    opened.catch(drop)
    connection = opened
    return opened
  }
  return {
    async cancel(client) {
      const pid = (client as unknown as { processID?: number }).processID
      if (pid === undefined) return false
      try {
        await (await open()).query('SELECT pg_cancel_backend($1)', [pid])
        return true
      } catch {
        return false
      }
    },
    async end() {
      clearTimeout(idle)
      await close()
    },
  }
}

const toError = (value: unknown): Error =>
  value instanceof Error ? value : new Error(String(value))
