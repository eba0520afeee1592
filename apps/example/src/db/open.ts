import type { Logger } from 'pino'
import type { Config } from '../config.ts'
import type { Database } from './database.ts'
import { migrate } from './migrations.ts'

/**
 * Opens the configured database — PostgreSQL when `DATABASE_URL` is set, else PGlite —
 * and runs the migrations. Drivers are imported on demand, so a service without a
 * database (payments, delivery) never loads them.
 */
export async function openDatabase(config: Config['database'], logger: Logger): Promise<Database> {
  const started = performance.now()
  const db =
    config.kind === 'postgres'
      ? (await import('./postgres.ts')).postgresDatabase({ url: config.url, logger })
      : await (await import('./pglite.ts')).pgliteDatabase(config.dataDir)
  try {
    const applied = await migrate(db)
    logger.info(
      { db: db.kind, migrations: applied, duration_ms: Math.round(performance.now() - started) },
      'database ready',
    )
  } catch (error) {
    await db.close().catch(() => {})
    throw error
  }
  return db
}
