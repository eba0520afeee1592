import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readmeBlocks, resolveBlocks, runnableJs } from '../lib/blocks.mjs'

function pkgWith(readme, prelude) {
  const path = mkdtempSync(join(tmpdir(), 'sturdy-blocks-test-'))
  writeFileSync(join(path, 'README.md'), readme)
  let preludeFile
  if (prelude !== undefined) {
    preludeFile = join(path, 'prelude.ts')
    writeFileSync(preludeFile, prelude)
  }
  const pkg = { name: '@sturdy/x', dir: 'x', path }
  return resolveBlocks(readmeBlocks(pkg), preludeFile)
}

const fence = '```'

describe('readmeBlocks', () => {
  it('takes ts and typescript blocks only, ids by heading anchor and position, README line', () => {
    const blocks = pkgWith(
      [
        '# @sturdy/x',
        `${fence}sh`,
        'npm i @sturdy/x',
        fence,
        '## Quick start (Hono)',
        `${fence}ts`,
        'const a = 1',
        fence,
        `${fence}typescript no-run`,
        'const b = 2',
        fence,
        `${fence}json`,
        '{}',
        fence,
        '### `timeout(ms, options)`',
        `${fence}ts`,
        'const c = 3',
        fence,
      ].join('\n'),
    )
    expect(blocks.map((b) => [b.subject, b.line, b.flags])).toEqual([
      ['README:quick-start-hono:1', 7, []],
      ['README:quick-start-hono:2', 10, ['no-run']],
      ['README:timeoutms-options:1', 17, []],
    ])
    expect(blocks.map((b) => b.runnable)).toEqual([true, false, true])
    expect(blocks[1].notRunWhy).toBe('marked no-run')
  })
})

describe('resolveBlocks', () => {
  const prelude = [
    "import { Hono } from 'hono'",
    "import { sturdy, problemErrorHandler } from '@sturdy/hono'",
    "import { deadline } from '@sturdy/timeout'",
    'const app = new Hono().use(sturdy(deadline({ budgetMs: 2000 })))',
    'app.onError(problemErrorHandler())',
    'declare const c: { var: { signal: AbortSignal } }',
    'const unused = 1',
  ].join('\n')

  it('gives a fragment only the prelude statements it needs, with what they need', () => {
    const [b] = pkgWith(
      `${fence}ts\napp.get('/orders/:id', (ctx) => ctx.text('ok'))\n${fence}\n`,
      prelude,
    )
    expect(b.source).toContain('const app = new Hono()')
    expect(b.source).toContain("import { Hono } from 'hono'")
    expect(b.source).toContain("from '@sturdy/timeout'")
    // a statement that declares nothing comes with the declarations it uses
    expect(b.source).toContain('app.onError(problemErrorHandler())')
    expect(b.source).not.toContain('unused')
    expect(b.source).not.toContain('declare const c')
    expect(b.runnable).toBe(true)
    expect(b.declaresApp).toBe(true)
    expect(b.routes).toEqual([{ method: 'GET', path: '/orders/1' }])
    expect(b.imports.sort()).toEqual(['@sturdy/hono', '@sturdy/timeout', 'hono'])
    // README lines map back: the block starts after the prelude part
    expect(b.source.split('\n')[b.preludeLines]).toBe(
      "app.get('/orders/:id', (ctx) => ctx.text('ok'))",
    )
  })

  it('never takes a name the block declares itself', () => {
    const [b] = pkgWith(
      `${fence}ts\nimport { Hono } from 'hono'\nconst app = new Hono()\napp.post('/pay', (ctx) => ctx.text('paid'))\n${fence}\n`,
      prelude,
    )
    expect(b.preludeLines).toBe(0)
    expect(b.source).not.toContain('onError')
    expect(b.routes).toEqual([{ method: 'POST', path: '/pay' }])
  })

  it('only type-checks a block that needs a declared-only name or a name nobody declares', () => {
    const [declared, unknown] = pkgWith(
      `${fence}ts\nconst s = c.var.signal\n${fence}\n${fence}ts\nconst r = await fetch(url)\n${fence}\n`,
      prelude,
    )
    expect(declared.runnable).toBe(false)
    expect(declared.notRunWhy).toBe('uses declared-only prelude names: c')
    expect(unknown.runnable).toBe(false)
    // fetch is a global; url is nobody's
    expect(unknown.notRunWhy).toBe('uses names nothing declares: url')
  })

  it('does not count names in type positions or property names as free', () => {
    const [b] = pkgWith(
      `${fence}ts\nimport type { Logger } from 'pino'\ndeclare module '@sturdy/x' {\n  interface Values {\n    log?: Logger\n    other?: Unknown\n  }\n}\nconst o = { fetch: 1 }\nconsole.log(o.fetch)\n${fence}\n`,
    )
    expect(b.runnable).toBe(true)
  })

  it('leaves alone a block that requests its own app, and compiles runnable blocks to JS exporting app', () => {
    const [b] = pkgWith(
      `${fence}ts\nconst pending = app.request('/')\nawait pending\n${fence}\n`,
      prelude,
    )
    expect(b.routes).toEqual([])
    const js = runnableJs(b)
    expect(js).toContain('export { app as __sturdyApp }')
    expect(js).not.toContain('declare')
  })
})
