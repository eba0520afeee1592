// README options tables against the options interfaces' `@default` JSDoc: options are
// documented once, on the interface (STYLE), and each package README mirrors those
// defaults in a table. This finds where the mirror and the source disagree.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/**
 * `@default` of every member of every `interface XxxOptions` in a package's sources
 * (tests excluded), by member name. A name in several interfaces keeps every default.
 *
 * @param {string} srcDir the package's `src` folder
 * @returns {Map<string, { iface: string, file: string, value: string }[]>}
 */
export function optionDefaults(srcDir) {
  const out = new Map()
  for (const file of sourceFiles(srcDir)) {
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/^export interface (\w+Options)\b[^{]*\{/gm)) {
      const body = interfaceBody(text, m.index + m[0].length)
      for (const member of body.matchAll(
        /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*(?:readonly\s+)?(\w+)\??\s*:/g,
      )) {
        const value = /@default\s+([^\n]*?)\s*(?:\*\/)?\s*$/m.exec(member[1])?.[1]
        if (value === undefined) continue
        const list = out.get(member[2]) ?? []
        list.push({ iface: m[1], file, value: value.replace(/\s*\*\s*$/, '').trim() })
        out.set(member[2], list)
      }
    }
  }
  return out
}

/**
 * Rows of the README's tables that have a `default` column and name an option in their
 * first cell (`` `budgetMs` ``, `` `budgetMs?` ``): option name, default cell, line.
 *
 * @param {string} markdown the README
 * @returns {{ option: string, value: string, line: number }[]}
 */
export function readmeDefaults(markdown) {
  const rows = []
  const lines = markdown.split('\n')
  let column = -1
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (!line.startsWith('|')) {
      column = -1
      continue
    }
    const cells = splitRow(line)
    if (column === -1) {
      // A header row: the next line is the |---| separator.
      if (/^\|[\s:|-]+\|$/.test(lines[i + 1] ?? ''))
        column = cells.findIndex((c) => /^default$/i.test(c))
      if (column !== -1) i++
      continue
    }
    const name = /^`(\w+)\??`$/.exec(cells[0] ?? '')?.[1]
    const value = cells[column]
    if (name !== undefined && value !== undefined) rows.push({ option: name, value, line: i + 1 })
  }
  return rows
}

/**
 * The same default, written two ways. Compared is the leading value, before any
 * explanation (`undefined (off)`, `0, or 10000 when ...`, `systemClock, with ref'd
 * timers`), with backticks, spaces, quotes, articles and digit separators aside; "none"
 * is written `undefined`, `—`, `off` or `none`.
 *
 * @param {string} readme the README cell
 * @param {string} jsdoc the `@default` text
 * @returns {boolean}
 */
export function sameDefault(readme, jsdoc) {
  return leadingValue(readme) === leadingValue(jsdoc)
}

/** Where the explanation after a value starts. */
const CUTS = [' (', ', ', '; ', ': ', ' = ', ' — ']

const NONE = new Set(['undefined', '—', '-', 'off', 'none', 'never'])

function leadingValue(text) {
  let s = text.replace(/`/g, '').replace(/\\\|/g, '|').replace(/["']/g, '').trim()
  // Cut the explanation at the first of CUTS outside brackets.
  let depth = 0
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if ('([{'.includes(c)) depth++
    else if (')]}'.includes(c)) depth--
    else if (depth === 0 && CUTS.some((cut) => s.startsWith(cut, i))) {
      s = s.slice(0, i)
      break
    }
  }
  s = s
    .replace(/^(a|an|the)\s+/i, '')
    .replace(/(\d)_(?=\d)/g, '$1')
    .replace(/\s+/g, '')
    .toLowerCase()
  return NONE.has(s) ? 'undefined' : s
}

/**
 * Every README table default that disagrees with its option's `@default`.
 *
 * @param {string} packageDir a package folder (README.md and src/)
 * @returns {string[]} one message per disagreement
 */
export function readmeDefaultMismatches(packageDir) {
  const defaults = optionDefaults(join(packageDir, 'src'))
  const readme = readFileSync(join(packageDir, 'README.md'), 'utf8')
  const problems = []
  for (const row of readmeDefaults(readme)) {
    const candidates = defaults.get(row.option)
    // A required option has no default; the name may be another interface's member.
    if (candidates === undefined || /required/i.test(row.value)) continue
    if (candidates.some((c) => sameDefault(row.value, c.value))) continue
    const wanted = candidates.map((c) => `${c.iface}: ${c.value}`).join(' | ')
    problems.push(`README.md:${row.line} \`${row.option}\` says ${row.value}; @default ${wanted}`)
  }
  return problems
}

function splitRow(line) {
  return line
    .replace(/^\|/, '')
    .replace(/\|\s*$/, '')
    .split(/(?<!\\)\|/)
    .map((c) => c.trim())
}

function interfaceBody(text, start) {
  let depth = 1
  let i = start
  while (i < text.length && depth > 0) {
    if (text[i] === '{') depth++
    else if (text[i] === '}') depth--
    i++
  }
  return text.slice(start, i - 1)
}

function sourceFiles(dir) {
  const out = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path))
    else if (/\.ts$/.test(name) && !/\.test(-d)?\.ts$/.test(name) && !name.endsWith('.d.ts'))
      out.push(path)
  }
  return out
}
