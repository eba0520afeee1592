/** Something SQL can be sent to: the database, or one transaction of it. */
export interface Queryable {
  /**
   * Runs one statement with `$1`-style parameters and returns its rows. With a signal,
   * an abort rejects at once with the signal's reason and cancels the statement where
   * the driver can (PostgreSQL: `pg_cancel_backend`).
   */
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    signal?: AbortSignal,
  ): Promise<R[]>
}

/** The app's SQL database: PGlite (embedded) or PostgreSQL, with the same SQL. */
export interface Database extends Queryable {
  readonly kind: 'pglite' | 'postgres'
  /** Runs `fn` in one transaction on one connection; commits, or rolls back on a throw. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /** Rejects unless the database answers `SELECT 1` (readiness). */
  ping(signal?: AbortSignal): Promise<void>
  close(): Promise<void>
}

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts (the
 * work goes on and its outcome is dropped; `onAbort` may cancel it).
 */
export function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort?: () => void,
): Promise<T> {
  if (signal === undefined) return work
  if (signal.aborted) {
    work.catch(() => {})
    onAbort?.()
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.()
      reject(signal.reason)
    }
    signal.addEventListener('abort', abort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', abort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abort)
        reject(error)
      },
    )
  })
}
