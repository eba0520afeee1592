import type { Exception } from '@opentelemetry/api'
import { ERROR_TYPE_VALUE_OTHER } from './semconv.ts'

/**
 * A low-cardinality `error.type` for a failure: an HTTP status as a string (what
 * semconv asks for when a status was received), else the error's class name, else
 * `_OTHER`. Never the message, which is free-form.
 */
export function errorType(error: unknown): string {
  if (typeof error === 'number') return String(error)
  if (error instanceof Error) return error.name || ERROR_TYPE_VALUE_OTHER
  if (typeof error === 'object' && error !== null) {
    const status = (error as { status?: unknown }).status
    if (typeof status === 'number') return String(status)
  }
  return ERROR_TYPE_VALUE_OTHER
}

/** What `span.recordException` accepts, from any thrown value. */
export function toException(error: unknown): Exception {
  if (error instanceof Error || typeof error === 'string') return error
  return String(error)
}

/** The message for a span's error status, when the value carries one. */
export function errorMessage(error: unknown): string | undefined {
  return error instanceof Error ? error.message : undefined
}
