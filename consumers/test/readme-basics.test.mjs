import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { publishedPackages } from '../../scripts/lib/workspace.mjs'

/** What a new user looks for first in a package README (issue #22). */
describe.each(publishedPackages().map((p) => [p.name, p.path]))('%s README', (name, dir) => {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8')
  const shell = [...readme.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)].map((m) => m[1])

  it('installs the package with plain npm, and only with npm', () => {
    const lines = shell.flatMap((block) => block.split('\n'))
    expect(lines.some((l) => /^npm (i|install) /.test(l) && l.includes(name))).toBe(true)
    expect(lines.filter((l) => /^(pnpm add|yarn add|bun add)\b/.test(l))).toEqual([])
  })

  it('says which runtimes are tested: the Node majors CI runs the suite on', () => {
    expect(readme).toMatch(/(Runtimes tested|Tested on)[\s\S]{0,200}?Node\s+20, 22 and 24/)
  })
})
