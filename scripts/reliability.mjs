#!/usr/bin/env node
// The reliability suite (reliability/, `@sturdy/reliability`) as a CI part: the example
// system's services as real processes under faults, overload, 100,000 requests with
// deadlines firing and clients aborting, bad input and a SIGTERM under load. CI runs it
// after the other parts, alone on the machine: its bounds are about time.
//
//   node scripts/reliability.mjs        (pnpm test:reliability runs the suite directly)
//
// Each test is a check "reliability › <file> › <test name>". Writes
// .ci-reports/reliability.json; the suite itself rewrites docs/reliability.md.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, secs } from './lib/proc.mjs'
import { createReport } from './lib/report.mjs'
import { recordVitestRun } from './lib/vitest-checks.mjs'
import { ROOT } from './lib/workspace.mjs'

const report = createReport('reliability')
const dir = mkdtempSync(join(tmpdir(), 'sturdy-reliability-ci-'))
const out = join(dir, 'report.json')
const r = await run(
  'pnpm',
  [
    '--filter',
    '@sturdy/reliability',
    'exec',
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${out}`,
  ],
  { cwd: ROOT, timeoutMs: 20 * 60_000, echo: true, env: { ...process.env, CI: 'true' } },
)
console.log(`[reliability] ${secs(r.ms)}, vitest exit ${r.code}${r.timedOut ? ' (timed out)' : ''}`)
recordVitestRun(report, 'reliability', out, r)
rmSync(dir, { recursive: true, force: true })
const result = report.finish({ timings: { reliability: Math.round(r.ms) } })
process.exitCode = result.failed > 0 ? 1 : 0
