#!/usr/bin/env node
// The API reference: TypeDoc over every published package (typedoc.json), written to
// docs/api/. Every TypeDoc validation warning — an exported symbol without JSDoc
// (notDocumented), a type used by the API but not exported (notExported), a broken
// {@link} — is a failed check, one per warning, so the known-failure list can name it.
//
//   node scripts/api-docs.mjs        (pnpm docs)
//
// typedoc.json keeps treatValidationWarningsAsErrors on, so a bare `pnpm exec typedoc`
// fails on the first warning too; this script turns it off only to render the pages and
// count every warning.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { run, tail } from './lib/proc.mjs'
import { createReport } from './lib/report.mjs'
import { publishedPackages, ROOT } from './lib/workspace.mjs'

const report = createReport('api-docs')
const pkgs = publishedPackages()
rmSync(join(ROOT, 'docs', 'api'), { recursive: true, force: true })
const r = await run(
  join(ROOT, 'node_modules', '.bin', 'typedoc'),
  [
    ...pkgs.flatMap((p) => ['--entryPoints', `packages/${p.dir}`]),
    '--treatValidationWarningsAsErrors',
    'false',
    '--logLevel',
    'Warn',
  ],
  { cwd: ROOT, timeoutMs: 20 * 60_000, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
)
// biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colours
const lines = `${r.stdout}\n${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n')
const perPkg = new Map(pkgs.map((p) => [p.name, []]))
const unplaced = []
for (const line of lines) {
  const m = /^\[(warning|error)\] (.*)$/.exec(line.trim())
  if (m === null || /^Found \d+ errors? and \d+ warnings?$/.test(m[2])) continue
  const text = m[2]
  const pkg = pkgs.find(
    (p) => text.includes(`${p.name}/src/`) || text.includes(`packages/${p.dir}/`),
  )
  const subject = text.replace(/, defined in [^,]+,/, '').replace(/\s+/g, ' ')
  if (pkg) perPkg.get(pkg.name).push(subject)
  else unplaced.push(subject)
}
for (const [name, warnings] of perPkg) {
  if (warnings.length === 0) report.pass(`api-docs › ${name} › documented`)
  for (const w of warnings) report.fail(`api-docs › ${name} › ${w}`, 'TypeDoc validation warning')
}
for (const w of unplaced) report.fail(`api-docs › typedoc › ${w}`, 'TypeDoc warning')
if (r.code !== 0)
  report.fail('api-docs › typedoc › run', `typedoc exited ${r.code}:\n${tail(r.stdout + r.stderr)}`)
else console.log(`[api-docs] docs/api written for ${pkgs.length} packages`)
const result = report.finish()
process.exitCode = result.failed > 0 ? 1 : 0
