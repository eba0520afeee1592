/** The pino destination every logging contender uses: a file, never a terminal. */
import { statSync } from 'node:fs'
import pino, { type Logger } from 'pino'
import { logFile } from './entry.ts'

/**
 * The contender's log destination, the same for Sturdy and the anchors:
 * - `default`: pino's default `pino.destination(file)`, which is asynchronous (SonicBoom
 *   with `sync: false, minLength: 0`: one `fs.write` per line while none is pending, the
 *   lines arriving meanwhile joined into the next);
 * - `sync`: `{ sync: true }`, a synchronous `write` per line;
 * - `buffered`: `{ sync: false, minLength: 4096 }`, the buffered destination pino's docs
 *   suggest for throughput.
 */
export function fileDestination(): ReturnType<typeof pino.destination> {
  const mode = process.env.BENCH_LOG_MODE
  if (mode === 'sync') return pino.destination({ dest: logFile(), sync: true })
  if (mode === 'buffered') {
    return pino.destination({ dest: logFile(), sync: false, minLength: 4096 })
  }
  return pino.destination(logFile())
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
