/**
 * Test helpers (not exported from the package): a real pino logger writing into a
 * Writable stream, and a strict JSON reader that rejects duplicate keys, because
 * `JSON.parse` silently keeps the last of two equal keys.
 */
import { Writable } from 'node:stream'
import type { Logger, LoggerOptions } from 'pino'
import pino from 'pino'

/** A pino logger and what it wrote. */
export interface Captured {
  logger: Logger
  /** Every line as written (raw JSON text). */
  raw: string[]
  /** Every line parsed strictly (throws on duplicate keys). */
  lines(): Record<string, unknown>[]
}

/** A real pino logger (default level `info` unless given) writing into memory. */
export function capture(options: LoggerOptions = {}): Captured {
  const raw: string[] = []
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback): void {
      for (const line of chunk.toString().split('\n')) if (line !== '') raw.push(line)
      callback()
    },
  })
  const logger = pino(options, stream)
  return { logger, raw, lines: () => raw.map((l) => parseStrict(l) as Record<string, unknown>) }
}

/** `JSON.parse`, except that an object with a repeated key is an error. */
export function parseStrict(text: string): unknown {
  let i = 0
  const ws = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++
  }
  const str = (): string => {
    const start = i
    i++ // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1
    i++
    return JSON.parse(text.slice(start, i)) as string
  }
  const value = (): unknown => {
    ws()
    const ch = text[i]
    if (ch === '{') {
      i++
      const obj: Record<string, unknown> = {}
      const seen = new Set<string>()
      ws()
      if (text[i] === '}') {
        i++
        return obj
      }
      for (;;) {
        ws()
        const key = str()
        if (seen.has(key)) throw new Error(`duplicate key "${key}" in ${text}`)
        seen.add(key)
        ws()
        i++ // colon
        obj[key] = value()
        ws()
        if (text[i++] === '}') return obj
      }
    }
    if (ch === '[') {
      i++
      const arr: unknown[] = []
      ws()
      if (text[i] === ']') {
        i++
        return arr
      }
      for (;;) {
        arr.push(value())
        ws()
        if (text[i++] === ']') return arr
      }
    }
    if (ch === '"') return str()
    const start = i
    while (i < text.length && !',}] \t\n\r'.includes(text[i] as string)) i++
    return JSON.parse(text.slice(start, i))
  }
  const result = value()
  ws()
  if (i !== text.length) throw new Error(`trailing text in ${text}`)
  return result
}

/** A deterministic request-id generator: `id-1`, `id-2`, ... */
export function sequentialIds(prefix = 'id-'): () => string {
  let n = 0
  return () => `${prefix}${++n}`
}
