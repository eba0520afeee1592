/** The pino destination every logging contender uses: a file, never a terminal. */
import { statSync } from 'node:fs'
import pino, { type Logger } from 'pino'
import { logFile } from './entry.ts'

/**
 * The contender's log destination, the same for Sturdy and the anchors: pino's default
 * `pino.destination(file)` (synchronous writes), or with `BENCH_LOG_MODE=async` the
 * buffered asynchronous destination pino's docs suggest for throughput
 * (`{ sync: false, minLength: 4096 }`).
 */
export function fileDestination(): ReturnType<typeof pino.destination> {
  return process.env.BENCH_LOG_MODE === 'async'
    ? pino.destination({ dest: logFile(), sync: false, minLength: 4096 })
    : pino.destination(logFile())
}

/** A pino logger writing to the contender's log file (see `fileDestination`). */
export function fileLogger(): Logger {
  return pino(fileDestination())
}

/** Bytes written to the log file so far (a check that logging really happened). */
export function logBytes(): number {
  try {
    return statSync(logFile()).size
  } catch {
    return 0
  }
}
