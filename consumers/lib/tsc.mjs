// Type-checking inside a consumer project: one tsconfig per module setting, the project's
// own `typescript`, and tsc's diagnostics mapped back to the README line, the entry point
// or the published declaration file they are about.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run, tail } from '../../scripts/lib/proc.mjs'

/**
 * compilerOptions per setting. ESM settings follow @tsconfig/node20 (target es2022, lib
 * es2023) with the strictness `tsc --init` (5.9) turns on: strict,
 * exactOptionalPropertyTypes, noUncheckedIndexedAccess, verbatimModuleSyntax. With
 * `declarations`, library declarations are checked too (skipLibCheck off) — costly, so
 * one setting per project does it; errors in third-party declarations are not counted.
 */
const BASE = {
  target: 'es2022',
  lib: ['es2023'],
  types: ['node'],
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  isolatedModules: true,
  moduleDetection: 'force',
  noEmit: true,
}

export const SETTINGS = {
  node16: { module: 'node16', moduleResolution: 'node16', verbatimModuleSyntax: true },
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext', verbatimModuleSyntax: true },
  bundler: { module: 'preserve', moduleResolution: 'bundler', verbatimModuleSyntax: true },
  'cjs-node16': { module: 'node16', moduleResolution: 'node16', esModuleInterop: true },
  'cjs-nodenext': { module: 'nodenext', moduleResolution: 'nodenext', esModuleInterop: true },
  'cjs-node10': { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
}

/**
 * Runs tsc for one setting and returns diagnostics grouped by the file they are in.
 *
 * @returns {Promise<{ byFile: Map<string, {line: number, code: string, text: string}[]>, other: string[], raw: string, ms: number }>}
 */
export async function typecheck(projectDir, setting, include, { declarations = false } = {}) {
  const config = `tsconfig.${setting}.json`
  const compilerOptions = { ...BASE, ...SETTINGS[setting], skipLibCheck: !declarations }
  writeFileSync(
    join(projectDir, config),
    `${JSON.stringify({ compilerOptions, include }, null, 2)}\n`,
  )
  const r = await run(
    process.execPath,
    [
      join(projectDir, 'node_modules', 'typescript', 'bin', 'tsc'),
      '-p',
      config,
      '--pretty',
      'false',
    ],
    { cwd: projectDir, timeoutMs: 10 * 60_000 },
  )
  const byFile = new Map()
  const other = []
  let last
  for (const line of r.stdout.split('\n')) {
    const m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line)
    if (m) {
      last = { line: Number(m[2]), code: m[4], text: m[5] }
      byFile.set(m[1], [...(byFile.get(m[1]) ?? []), last])
    } else if (/^\s+\S/.test(line) && last) {
      last.text += `\n${line.trimEnd()}`
    } else if (line.trim() !== '') {
      other.push(line)
      last = undefined
    }
  }
  if (r.code !== 0 && byFile.size === 0) {
    other.push(
      `tsc exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tail(r.stderr || r.stdout, 800)}`,
    )
  }
  return { byFile, other, raw: r.stdout, ms: r.ms }
}

/**
 * For a setting the packages do not support: why a file of imports did not fail the
 * documented way — each of its `imports` lines reporting `code`, and no other error —
 * or undefined when it did.
 *
 * @param {{line: number, code: string, text: string}[] | undefined} errors tsc's errors in the file
 * @param {number} imports the file's import lines (lines 1..imports)
 * @param {string} code the expected error code
 * @returns {string | undefined}
 */
export function notFailingAsDocumented(errors = [], imports, code) {
  const problems = []
  for (let line = 1; line <= imports; line++) {
    if (!errors.some((e) => e.line === line && e.code === code))
      problems.push(`line ${line}: expected ${code}, got none`)
  }
  for (const e of errors) {
    if (e.code !== code || e.line > imports) problems.push(`line ${e.line}: ${e.code} ${e.text}`)
  }
  return problems.length === 0 ? undefined : problems.join('\n')
}
