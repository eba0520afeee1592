import { PGlite } from '@electric-sql/pglite'
import type { Database, Queryable } from './database.ts'
import { abortable } from './database.ts'

/**
 * PostgreSQL embedded in the process (PGlite, WebAssembly): no server to install. In
 * memory unless `dataDir` is given. A statement cannot be interrupted mid-way (PGlite
 * runs one at a time, in-process); an aborted signal rejects the caller at once and the
 * statement's outcome is dropped.
 */
export async function pgliteDatabase(dataDir?: string): Promise<Database> {
  const db = await PGlite.create(dataDir)
  const on = (q: Pick<PGlite, 'query'>): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[], signal?: AbortSignal) {
      signal?.throwIfAborted()
      const result = await abortable(q.query<R>(sql, params as unknown[] | undefined), signal)
      return result.rows
    },
  })
  const root = on(db)
  return {
    kind: 'pglite',
    query: root.query,
    transaction: (fn) => db.transaction((tx) => fn(on(tx))),
    async ping(signal) {
      if (db.closed) throw new Error('database closed')
      await root.query('SELECT 1', [], signal)
    },
    close: () => db.close(),
  }
}
