// A vitest JSON report as CI checks: each test "<suite> › <file> › <test name>"; a file
// that failed to load is one failed check; a missing report or a run with no test is one
// failed check "<suite> › vitest › run". Used by the parts that run vitest apart from
// the main run (the Node matrix, the reliability suite).
import { existsSync, readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { tail } from './proc.mjs'
import { ROOT } from './workspace.mjs'

/**
 * Records what one vitest run reported.
 *
 * @param {ReturnType<typeof import('./report.mjs').createReport>} report
 * @param {string} suite  the checks' first segment, e.g. "vitest node22"
 * @param {string} file  the JSON report vitest wrote (`--outputFile.json`)
 * @param {{ code: number | null, stdout: string, stderr: string }} run  the vitest process
 */
export function recordVitestRun(report, suite, file, run) {
  if (!existsSync(file)) {
    report.fail(
      `${suite} › vitest › run`,
      `no JSON report; vitest exited ${run.code}:\n${tail(run.stdout + run.stderr)}`,
    )
    return
  }
  const json = JSON.parse(readFileSync(file, 'utf8'))
  for (const result of json.testResults) {
    const rel = relative(ROOT, result.name)
    if (result.assertionResults.length === 0 && result.status === 'failed') {
      report.fail(`${suite} › ${rel} › (file)`, tail(result.message ?? 'failed to run', 1500))
      continue
    }
    for (const t of result.assertionResults) {
      const id = `${suite} › ${rel} › ${t.fullName}`
      if (t.status === 'passed') report.pass(id)
      else if (t.status === 'failed')
        report.fail(id, tail((t.failureMessages ?? []).join('\n'), 1500))
      else report.skip(id, t.status)
    }
  }
  if (json.numTotalTests === 0) report.fail(`${suite} › vitest › run`, 'vitest ran no test')
}
