#!/usr/bin/env node
// Prints the one closing line CI reads: "N passed, N failed[, N skipped]", from vitest's
// JSON report plus every CI part's report in .ci-reports/ (consumer tests, the Node
// matrix, API docs, the release dry run). Known failures (.ci/known-failures.json) count
// as skipped. A missing vitest report, or a missing report of a part named in --expect,
// counts as a failure and exits non-zero.
//
//   node scripts/test-summary.mjs [.vitest-report.json] [--expect consumers,node-matrix]
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { recordVitestRun } from './lib/vitest-checks.mjs'

const args = process.argv.slice(2)
const expectArg = args.indexOf('--expect')
const expected = expectArg === -1 ? [] : args[expectArg + 1].split(',').filter(Boolean)
const file =
  args.find((a, i) => !a.startsWith('--') && i !== expectArg + 1) ?? '.vitest-report.json'
const reportsDir = '.ci-reports'

let passed = 0
let failed = 0
let skipped = 0
const lines = []
/** Failing checks, named again at the very end: CI shows a log's tail, not its middle. */
const failing = []

if (existsSync(file)) {
  const r = JSON.parse(readFileSync(file, 'utf8'))
  const s = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
  const f = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0)
  const p = r.numPassedTests ?? 0
  if ((r.numTotalTests ?? 0) === 0) failed++
  passed += p
  failed += f
  skipped += s
  lines.push(
    `vitest (Node ${process.versions.node.split('.')[0]}): ${p} passed, ${f} failed, ${s} skipped`,
  )
  // The failing tests, named as the other vitest parts name them.
  const collect = { pass() {}, skip() {}, fail: (id, detail) => failing.push({ id, detail }) }
  recordVitestRun(collect, 'vitest', file, { code: null, stdout: '', stderr: '' })
} else {
  failed++
  lines.push(`vitest: no report (${file}): the run stopped before the tests`)
}

const seen = new Set()
if (existsSync(reportsDir)) {
  for (const name of readdirSync(reportsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const r = JSON.parse(readFileSync(join(reportsDir, name), 'utf8'))
    if (typeof r.part !== 'string') continue
    seen.add(r.part)
    passed += r.passed
    failed += r.failed
    skipped += r.skipped + r.known
    for (const f of r.failures ?? []) failing.push(f)
    lines.push(
      `${r.part}: ${r.passed} passed, ${r.failed} failed, ${r.known} known failures, ${r.skipped} skipped (${r.seconds} s)`,
    )
  }
}
for (const part of expected) {
  if (!seen.has(part)) {
    failed++
    lines.push(`${part}: no report: the part crashed or did not run`)
  }
}

if (failing.length > 0) {
  lines.push(`failing checks (${failing.length}):`)
  for (const f of failing.slice(0, 20)) {
    lines.push(`  ✗ ${f.id}`)
    // The first lines of the message: enough to tell a flake from a bug.
    const detail = String(f.detail ?? '')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(0, 3)
    for (const l of detail) lines.push(`      ${l.slice(0, 300)}`)
  }
  if (failing.length > 20)
    lines.push(`  … and ${failing.length - 20} more (see the parts' logs above)`)
}
console.log(lines.join('\n'))
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
