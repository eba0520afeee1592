import { createRequire } from 'node:module'
import type { DestinationStream, Logger } from 'pino'
import { pino } from 'pino'
import type { Config } from '../config.ts'

/**
 * The root logger: JSON lines on stdout, or pino-pretty when `format` is `pretty` (the
 * default when stdout is a terminal). pino-pretty runs in-process as a stream (no
 * worker thread, nothing to resolve at run time) and is loaded only when asked for.
 */
export function createLogger(config: Config['log'], destination?: DestinationStream): Logger {
  const options = { level: config.level, base: { pid: process.pid } }
  if (config.format === 'pretty' && destination === undefined) {
    const require = createRequire(import.meta.url)
    const pretty = require('pino-pretty') as (o: object) => DestinationStream
    return pino(
      options,
      pretty({
        ignore: 'pid,hostname',
        messageFormat:
          '{if service}[{service}] {end}{msg}{if status} {method} {path} {status} {duration_ms}ms{end}',
      }),
    )
  }
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }))
}
