import type { ServerResponse } from 'node:http'

/**
 * Makes every later write to `res` a no-op, once Sturdy has answered it (a deadline's
 * 504, a breaker's 503, an error's problem+json). A handler still running does not know
 * the request is over: a callback-style handler that answers after the 504 would throw
 * `ERR_HTTP_HEADERS_SENT` from a timer (an uncaught exception: the process dies), and a
 * `write()` after `end()` emits an `error` nobody listens to (the same). A deadline must
 * never take the process down, so the response's writing methods are shadowed on this
 * one response object: `setHeader()` and friends do nothing, `write()` and `end()`
 * report success and call their callback. Express's `res.send()`/`res.json()` and
 * Fastify's raw writes go through these, so they are dropped too.
 *
 * Only responses Sturdy answered pay for this (never the normal path).
 *
 * @param res the response Sturdy has answered
 */
export function dropLateWrites(res: ServerResponse): void {
  const target = res as unknown as Record<PropertyKey, unknown>
  if (target[DROPPED] === true) return
  target[DROPPED] = true
  for (const name of HEADER_METHODS) target[name] = returnThis
  target.write = lateWrite
  target.end = lateEnd
}

const DROPPED: symbol = Symbol('@sturdy/node late writes dropped')

const HEADER_METHODS = [
  'setHeader',
  'setHeaders',
  'appendHeader',
  'removeHeader',
  'writeHead',
  'flushHeaders',
  'writeContinue',
  'writeEarlyHints',
  'addTrailers',
] as const

function returnThis(this: unknown): unknown {
  return this
}

function lateWrite(...args: unknown[]): boolean {
  callBack(args)
  return true
}

function lateEnd(this: unknown, ...args: unknown[]): unknown {
  callBack(args)
  return this
}

/** `write(chunk, cb)`, `end(cb)`, `end(chunk, encoding, cb)`: the callback is the last function. */
function callBack(args: readonly unknown[]): void {
  const cb = args.findLast((a) => typeof a === 'function') as (() => void) | undefined
  if (cb !== undefined) process.nextTick(cb)
}
