import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

/**
 * @sturdy/chaos must run under Node, Bun, Deno and edge runtimes: its shipped files use
 * web-standard APIs only. Tests may use Node.
 */
describe('runtime neutrality', () => {
  const dir = dirname(fileURLToPath(import.meta.url))
  const shipped = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))

  it.each(shipped)('%s imports no node: module and touches no Node global', (file) => {
    // Code only: doc comments may show Node usage (`process.env` in an example).
    const source = readFileSync(join(dir, file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '')
    expect(source).not.toMatch(/from ['"]node:/)
    expect(source).not.toMatch(/\b(process|Buffer|require|__dirname|setImmediate)\b\s*[.(]/)
  })
})
