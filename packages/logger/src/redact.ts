/**
 * The pino `redact` paths applied by default. The request logger never logs headers
 * unless you allow-list some, so these matter for opt-in header logging and for
 * objects handlers log themselves (`c.var.log.info({ headers })`, `{ req }`).
 * Header names are matched as written: Node and Fetch both lower-case them.
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  'authorization',
  'cookie',
  '["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
]
