import { isSturdyError } from '@sturdy/core'
/** A thrown value as it appears under `err` in a log line. */
export interface SerializedError {
  /** The constructor name (`TypeError`, `TimeoutError`), or the `typeof` of a non-error. */
  type: string
  message: string
  /** A Sturdy or Node error code, when the error has one. */
  code?: string
  /** Only for server errors (5xx) and unexpected failures. */
  stack?: string
  cause?: SerializedError
}

const MAX_CAUSE_DEPTH = 3

/**
 * A 503 or 504 a Sturdy policy raised on purpose — an open circuit, shed load, a passed
 * deadline, a shutdown. One per request while a dependency is down, and its stack only
 * says where the policy runs: type, message and code say what happened. The access and
 * RPC lines leave its stack out.
 */
export function isDeliberate(error: unknown): boolean {
  return isSturdyError(error) && (error.status === 503 || error.status === 504)
}

// Marks objects this module made, so the request loggers' `err` serializer passes them
// through instead of handing them to pino's error serializer (which would re-derive
// `type` from the constructor and add an empty `stack`).
const SERIALIZED: WeakSet<object> = new WeakSet()

/**
 * Turns any thrown value into a plain, JSON-safe object. Done here rather than left to
 * the logger's `err` serializer because the injected pino instance may have custom
 * serializers, and because the stack is only wanted for server errors: a 404 or a
 * validation failure with a stack is noise.
 *
 * @param error the thrown value
 * @param withStack include `stack` (and the causes' stacks)
 * @returns a plain object with `type`, `message` and, when present, `code`, `stack`, `cause`
 * @example
 * serializeError(new TypeError('x'), true) // { type: 'TypeError', message: 'x', stack: '...' }
 */
export function serializeError(error: unknown, withStack: boolean): SerializedError {
  const out = serialize(error, withStack, 0)
  SERIALIZED.add(out)
  return out
}

// pino registers this symbol globally (`Symbol.for`) so code can read a logger's
// serializers without importing pino.
const PINO_SERIALIZERS = Symbol.for('pino.serializers')

/**
 * An `err` serializer for a child of `logger`: values from `serializeError` pass through
 * untouched, everything else (errors handlers log themselves) is serialized by the
 * logger's own `err` serializer, as it always was.
 */
export function errSerializerFor(logger: object): (value: unknown) => unknown {
  const inherited = (logger as Record<symbol, Record<string, (v: unknown) => unknown> | undefined>)[
    PINO_SERIALIZERS
  ]?.err
  return function errSerializer(value) {
    if (typeof value === 'object' && value !== null && SERIALIZED.has(value)) return value
    return inherited === undefined ? value : inherited(value)
  }
}

function serialize(error: unknown, withStack: boolean, depth: number): SerializedError {
  if (!(error instanceof Error)) {
    return { type: error === null ? 'null' : typeof error, message: String(error) }
  }
  const out: SerializedError = {
    type: error.constructor?.name || error.name,
    message: error.message,
  }
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string') out.code = code
  if (withStack && error.stack !== undefined) out.stack = error.stack
  if (error.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
    out.cause = serialize(error.cause, withStack, depth + 1)
  }
  return out
}
