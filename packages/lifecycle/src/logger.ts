/**
 * The logger lifecycle writes its few lines to: the `info`/`warn`/`error` methods of a
 * pino logger (or anything with the same `(object, message)` shape). Lifecycle logs
 * rarely — a check changing state, the drain starting, and one summary line at the end —
 * so the default needs no dependency.
 */
export interface LifecycleLogger {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
  /**
   * Writes out what is buffered, then calls `callback` (pino's `logger.flush`). Called
   * before `exit`, so the summary line of an asynchronous destination is not lost.
   */
  flush?(callback: (error?: Error) => void): void
}

/**
 * The default logger: one JSON object per line on stdout, with pino's field names and
 * numeric levels (`level`, `time`, `msg`), so log shippers and `pino-pretty` read it like
 * the rest of a pino app's output. Never plain text.
 *
 * @param write where a line goes; @default process.stdout.write
 * @returns a `LifecycleLogger`
 * @example
 * jsonLineLogger().info({ reason: 'SIGTERM' }, 'draining')
 * // {"level":30,"time":1767225600000,"msg":"draining","reason":"SIGTERM"}
 */
export function jsonLineLogger(
  write: (line: string) => void = (line) => process.stdout.write(line),
): LifecycleLogger {
  const log =
    (level: number) =>
    (fields: object, message: string): void => {
      let line: string
      try {
        line = JSON.stringify({ level, time: Date.now(), msg: message, ...fields })
      } catch {
        // A field that cannot be serialized (a cycle) must not lose the line.
        line = JSON.stringify({ level, time: Date.now(), msg: message })
      }
      write(`${line}\n`)
    }
  return { info: log(30), warn: log(40), error: log(50) }
}

/** A short, safe description of a thrown value for a log line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
