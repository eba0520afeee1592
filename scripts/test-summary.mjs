#!/usr/bin/env node
// Prints the one closing line CI reads: "N passed, N failed[, N skipped]", from
// vitest's JSON report. A missing report (the run stopped before the tests) counts
// nothing and exits non-zero.
import { existsSync, readFileSync } from 'node:fs'

const file = process.argv[2] ?? '.vitest-report.json'
if (!existsSync(file)) {
  console.log('0 passed, 0 failed')
  process.exit(1)
}
const r = JSON.parse(readFileSync(file, 'utf8'))
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0)
const failed = (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0)
console.log(
  `${r.numPassedTests ?? 0} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`,
)
process.exit(failed > 0 || (r.numTotalTests ?? 0) === 0 ? 1 : 0)
