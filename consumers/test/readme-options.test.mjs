import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  readmeDefaultMismatches,
  readmeDefaults,
  sameDefault,
} from '../../scripts/lib/readme-options.mjs'
import { publishedPackages } from '../../scripts/lib/workspace.mjs'

function fixture(source, readme) {
  const dir = mkdtempSync(join(tmpdir(), 'sturdy-readme-options-'))
  mkdirSync(join(dir, 'src'))
  writeFileSync(join(dir, 'src', 'options.ts'), source)
  writeFileSync(join(dir, 'README.md'), readme)
  return dir
}

const SOURCE = `/** Options. */
export interface ThingOptions {
  /** How long. @default 2000 */
  readonly budgetMs?: number
  /**
   * Who asks.
   * @default undefined (anyone)
   */
  who?: string
  /** Not documented with a default. */
  other?: boolean
}
`

describe('README options tables against @default', () => {
  it('reads the default column of option tables, wherever it is', () => {
    const rows = readmeDefaults(
      '| option | type | default | what |\n| --- | --- | --- | --- |\n| `budgetMs` | `number` | `2000` | x |\n| `who?` | `string` | — | y \\| z |\n\ntext\n',
    )
    expect(rows).toEqual([
      { option: 'budgetMs', value: '`2000`', line: 3 },
      { option: 'who', value: '—', line: 4 },
    ])
  })

  it('compares leading values, not the explanation after them', () => {
    expect(sameDefault('`0`, or `10000` when a ratio trip is set', '0, or 10000 when ...')).toBe(
      true,
    )
    expect(sameDefault('off', 'undefined (off)')).toBe(true)
    expect(sameDefault('`10_000`', '10000')).toBe(true)
    expect(sameDefault("`'/_chaos'`", '`/_chaos`')).toBe(true)
    expect(sameDefault('`5000`', '500')).toBe(false)
    expect(sameDefault('`systemClock`', 'manualClock')).toBe(false)
  })

  it('reports a table that disagrees with the interface, and accepts one that agrees', () => {
    const table = (budget) =>
      `| option | default |\n| --- | --- |\n| \`budgetMs\` | \`${budget}\` |\n| \`who\` | — (anyone) |\n`
    expect(readmeDefaultMismatches(fixture(SOURCE, table(2000)))).toEqual([])
    expect(readmeDefaultMismatches(fixture(SOURCE, table(1000)))).toEqual([
      'README.md:3 `budgetMs` says `1000`; @default ThingOptions: 2000',
    ])
  })

  it('every package README mirrors the @default of the options it lists', () => {
    const problems = publishedPackages().flatMap((p) =>
      readmeDefaultMismatches(p.path).map((m) => `${p.name}: ${m}`),
    )
    expect(problems).toEqual([])
  })
})
