import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { neutralChecker } from '../lib/neutral.mjs'

function project(files) {
  const dir = mkdtempSync(join(tmpdir(), 'sturdy-neutral-test-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), typeof text === 'string' ? text : JSON.stringify(text))
  }
  return neutralChecker(dir)
}

describe('neutralChecker', () => {
  const check = project({
    'node_modules/@s/pure/package.json': {
      name: '@s/pure',
      exports: { '.': { types: './index.d.ts', default: './index.js' }, './sub': './sub.js' },
    },
    'node_modules/@s/pure/index.js': "import { x } from './lib.js'\nexport const y = x",
    'node_modules/@s/pure/lib.js': "import type_only from 'dep'\nexport const x = 1",
    'node_modules/@s/pure/sub.js': "export const s = await import('node:crypto')",
    'node_modules/dep/package.json': { name: 'dep', main: 'main.js' },
    'node_modules/dep/main.js': 'export default 1',
    'node_modules/@s/server/package.json': { name: '@s/server', exports: './index.js' },
    'node_modules/@s/server/index.js': "import 'dep'\nimport { createServer } from 'http'\n",
    'node_modules/cond/package.json': {
      name: 'cond',
      exports: { node: './node.js', default: './web.js' },
    },
    'node_modules/cond/node.js': "import 'node:fs'",
    'node_modules/cond/web.js': 'export {}',
  })

  it('follows relative and bare imports and finds none of Node', () => {
    expect(check.why('@s/pure')).toBeUndefined()
  })

  it('names the chain to a Node built-in, bare or node:, static or dynamic', () => {
    expect(check.why('@s/server')).toBe('@s/server/index.js → http')
    expect(check.why('@s/pure/sub')).toBe('@s/pure/sub.js → node:crypto')
    expect(check.why('node:events')).toBe('node:events')
  })

  it('resolves with the import/default conditions, as Bun and Deno do without node', () => {
    expect(check.why('cond')).toBeUndefined()
  })
})
