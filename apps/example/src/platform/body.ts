import { PayloadTooLargeError, SturdyError, ValidationError } from '@sturdy/core'
import type { Context } from 'hono'
import type { z } from 'zod'

/** Options for `readJson`. */
export interface ReadJsonOptions {
  /** Largest accepted body in bytes. @default 65536 */
  limit?: number
}

/**
 * Reads and validates a JSON body. A content type other than JSON throws a 415
 * (`UNSUPPORTED_MEDIA_TYPE`); bad JSON or a body that fails the schema throws
 * `ValidationError` (400, naming each failing field); an oversized
 * body throws `PayloadTooLargeError` (413) without reading past the limit.
 */
export async function readJson<S extends z.ZodType>(
  c: Context,
  schema: S,
  options: ReadJsonOptions = {},
): Promise<z.infer<S>> {
  const limit = options.limit ?? 65_536
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    // 415, not 400: the body may be fine, it is the media type the route does not take.
    throw new SturdyError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Expected a JSON body (content-type: application/json), got ${JSON.stringify(type.slice(0, 100))}`,
      415,
    )
  }
  const declared = Number(c.req.header('content-length'))
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit)
  const text = await readLimited(c.req.raw, limit)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new ValidationError('Malformed JSON body', [{ path: '', message: 'invalid JSON' }], {
      cause,
    })
  }
  const parsed = schema.safeParse(value)
  if (!parsed.success) {
    throw new ValidationError(
      'Invalid request body',
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    )
  }
  return parsed.data
}

async function readLimited(request: Request, limit: number): Promise<string> {
  if (request.body === null) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      throw new PayloadTooLargeError(limit)
    }
    chunks.push(value)
  }
  return new TextDecoder().decode(Buffer.concat(chunks))
}
