/** The pino destination every logging contender uses: a file, never a terminal. */
import { statSync } from 'node:fs'
import pino, { type Logger } from 'pino'
import { logFile } from './entry.ts'

/**
 * A pino logger writing to the contender's log file with pino's documented default
 * destination (`pino.destination(file)`), the same for Sturdy and the anchors.
 */
export function fileLogger(): Logger {
  return pino(pino.destination(logFile()))
}

/** Bytes written to the log file so far (a check that logging really happened). */
export function logBytes(): number {
  try {
    return statSync(logFile()).size
  } catch {
    return 0
  }
}
