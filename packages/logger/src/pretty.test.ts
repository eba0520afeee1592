import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import pino from 'pino'
import { afterAll, describe, expect, it } from 'vitest'
import { requestLogger } from './index.ts'

const dir = mkdtempSync(join(tmpdir(), 'sturdy-logger-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('pretty output recipe (README)', () => {
  it('pino-pretty as a transport prints the access line readably, redaction included', async () => {
    const file = join(dir, 'pretty.log')
    // The README recipe, with a file destination instead of stdout.
    const transport = pino.transport({
      target: 'pino-pretty',
      options: {
        destination: file,
        colorize: false,
        ignore: 'pid,hostname',
        messageFormat: '{msg}{if status} {method} {path} {status} {duration_ms}ms{end}',
      },
    })
    const logger = pino(transport)
    const app = new Hono().use(
      sturdy(requestLogger({ logger, generateRequestId: () => 'pretty-1' })),
    )
    app.get('/users/:id', (c) => {
      c.var.log.info({ headers: { authorization: 'Bearer tok-9' } }, 'inside')
      return c.text('ok')
    })
    await app.request('/users/3')
    await new Promise<void>((resolve) => {
      transport.once('close', () => resolve())
      transport.end()
    })
    const text = readFileSync(file, 'utf8')
    expect(text).toMatch(/INFO.*request completed GET \/users\/3 200 \d+(\.\d+)?ms/)
    expect(text).toMatch(/INFO: inside\n/)
    expect(text).toContain('req_id: "pretty-1"')
    expect(text).toContain('"[Redacted]"')
    expect(text).not.toContain('tok-9')
    expect(text).not.toMatch(/^\{/m) // not JSON
  })
})
