/**
 * Request bodies, made replayable where that is cheap and bounded: a retry must send
 * the same bytes again, and a stream can be read only once.
 */

/** A request body as the transport sends it. */
export interface PreparedBody {
  /** What to send; a replayable body is sent again as is on every attempt. */
  readonly data: string | Uint8Array | AsyncIterable<Uint8Array> | null
  /** The content type the body implies, when the caller set none. */
  readonly contentType: string | undefined
  /** Why a retry cannot resend this body, or undefined when it can. */
  readonly notReplayable: string | undefined
}

/** What `fetch` accepts as a body, plus Node's async iterables. */
export type BodyLike =
  | string
  | ArrayBuffer
  | ArrayBufferView
  | Blob
  | FormData
  | URLSearchParams
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | null
  | undefined

const NONE: PreparedBody = { data: null, contentType: undefined, notReplayable: undefined }
const TEXT = 'text/plain;charset=UTF-8'
const FORM = 'application/x-www-form-urlencoded;charset=UTF-8'

/**
 * Turns a body into bytes or a string when that is possible without waiting, else
 * returns a promise (Blob, FormData: read up to `limit` bytes).
 *
 * @param body the caller's body
 * @param limit the most bytes buffered to make a body replayable
 * @returns the prepared body, or a promise of it
 */
export function prepareBody(body: BodyLike, limit: number): PreparedBody | Promise<PreparedBody> {
  if (body === null || body === undefined) return NONE
  if (typeof body === 'string') return { data: body, contentType: TEXT, notReplayable: undefined }
  if (body instanceof Uint8Array) return bytes(body)
  if (body instanceof ArrayBuffer) return bytes(new Uint8Array(body))
  if (ArrayBuffer.isView(body)) {
    return bytes(new Uint8Array(body.buffer, body.byteOffset, body.byteLength))
  }
  if (body instanceof URLSearchParams) {
    return { data: body.toString(), contentType: FORM, notReplayable: undefined }
  }
  if (typeof Blob !== 'undefined' && body instanceof Blob) {
    return fromStream(body.stream(), body.size, limit, body.type === '' ? undefined : body.type)
  }
  if (typeof FormData !== 'undefined' && body instanceof FormData) {
    // The platform's multipart encoder, boundary included.
    const encoded = new Response(body)
    const type = encoded.headers.get('content-type') ?? undefined
    return fromStream(encoded.body as ReadableStream<Uint8Array>, undefined, limit, type)
  }
  if (isAsyncIterable(body)) {
    return {
      data: body,
      contentType: undefined,
      notReplayable: 'the request body is a stream, which can be sent only once',
    }
  }
  throw new TypeError(`Unsupported request body: ${Object.prototype.toString.call(body)}`)
}

function bytes(data: Uint8Array): PreparedBody {
  return { data, contentType: undefined, notReplayable: undefined }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}

/**
 * Reads a finite source up to `limit` bytes: when it ends within the limit it becomes
 * replayable bytes; otherwise what was read and the rest are sent as one stream, once.
 *
 * @param stream the source
 * @param size its size when known (a Blob's), to skip buffering what cannot fit
 * @param limit the most bytes buffered
 * @param contentType the type the source implies
 * @returns the prepared body
 */
export async function fromStream(
  stream: ReadableStream<Uint8Array>,
  size: number | undefined,
  limit: number,
  contentType: string | undefined,
): Promise<PreparedBody> {
  if (size !== undefined && size > limit) {
    // Node's web streams are async iterables, which undici sends as they come.
    return {
      data: stream as unknown as AsyncIterable<Uint8Array>,
      contentType,
      notReplayable: tooLarge(limit),
    }
  }
  const reader = stream.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    total += value.byteLength
    if (total > limit) {
      return { data: rest(chunks, reader), contentType, notReplayable: tooLarge(limit) }
    }
  }
  reader.releaseLock()
  return { data: concat(chunks, total), contentType, notReplayable: undefined }
}

function tooLarge(limit: number): string {
  return `the request body is larger than maxReplayBytes (${limit}), so it is streamed and sent only once`
}

async function* rest(
  head: readonly Uint8Array[],
  reader: ReadableStreamDefaultReader<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  try {
    yield* head
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array
  const out = new Uint8Array(total)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.byteLength
  }
  return out
}
