/**
 * The pino `redact` paths applied by default: `authorization`, `cookie` and
 * `set-cookie` at the top level, under `headers`, and under `req` / `res` / `request` /
 * `response` `.headers`. The request logger never logs headers unless you allow-list
 * some, so these matter for opt-in header logging and for objects handlers log
 * themselves (`c.var.log.info({ headers })`, `{ req }`). Header names are matched as
 * written: Node and Fetch both lower-case them.
 *
 * The paths are spelled out rather than written as `*.headers.cookie`: in pino a
 * leading wildcard is checked against every key of every line, which measured several
 * times the cost of the whole access line; explicit paths are close to free.
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  'authorization',
  'cookie',
  '["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["set-cookie"]',
  'res.headers.authorization',
  'res.headers.cookie',
  'res.headers["set-cookie"]',
  'request.headers.authorization',
  'request.headers.cookie',
  'request.headers["set-cookie"]',
  'response.headers.authorization',
  'response.headers.cookie',
  'response.headers["set-cookie"]',
]
