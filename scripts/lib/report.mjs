// Pass/fail bookkeeping for the CI parts that are not vitest (consumer tests, the Node
// matrix, API docs, the release dry run), and the one list of known failures.
//
// A check has an id "<suite> › <package> › <subject>", e.g.
//   "tsc highest nodenext › @sturdy/node › README:wrap-an-existing-listener:2".
// A failing check whose id is listed in .ci/known-failures.json counts as a known failure
// instead of a failure. An entry may also say why the check can pass (`mayPass`): a figure
// measured on a shared host within its noise of the target. Such a check passing is
// reported and counted as a pass; without `mayPass`, a listed check that passes, or a
// listed id of a suite that ran but has no such check, fails the run: the list only ever
// shrinks to match reality. (A listed id that no longer exists fails either way.)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './workspace.mjs'

export const KNOWN_FAILURES_FILE = join(ROOT, '.ci', 'known-failures.json')
export const REPORTS_DIR = join(ROOT, '.ci-reports')

/** @returns {Map<string, { why: string, mayPass?: string }>} check id -> why it is known to fail (and why it may pass) */
export function knownFailures(file = KNOWN_FAILURES_FILE) {
  if (!existsSync(file)) return new Map()
  const data = JSON.parse(readFileSync(file, 'utf8'))
  const map = new Map()
  for (const entry of data.failures ?? []) {
    if (typeof entry.check !== 'string' || typeof entry.why !== 'string' || entry.why === '') {
      throw new Error(`${file}: every entry needs "check" and a non-empty "why"`)
    }
    if (
      entry.mayPass !== undefined &&
      (typeof entry.mayPass !== 'string' || entry.mayPass === '')
    ) {
      throw new Error(`${file}: "mayPass" must say why the check can pass (${entry.check})`)
    }
    if (map.has(entry.check)) throw new Error(`${file}: duplicate ${entry.check}`)
    map.set(entry.check, { why: entry.why, mayPass: entry.mayPass })
  }
  return map
}

/**
 * @typedef {object} Check
 * @property {string} id
 * @property {'pass' | 'fail' | 'skip'} status
 * @property {string} [detail]  why it failed or was skipped
 * @property {string} [where]   file:line the check is about
 */

export function suiteOf(id) {
  return id.split(' › ')[0]
}

/**
 * A report for one CI part, written to .ci-reports/<part>.json by `finish()`.
 *
 * @param {string} part
 * @param {{ knownFile?: string, reportsDir?: string, log?: (line: string) => void }} [options]
 */
export function createReport(part, options = {}) {
  const started = performance.now()
  /** @type {Check[]} */
  const checks = []
  return {
    part,
    checks,
    /** @param {Check} check */
    add(check) {
      checks.push(check)
      return check
    },
    pass(id, where) {
      return this.add({ id, status: 'pass', where })
    },
    fail(id, detail, where) {
      return this.add({ id, status: 'fail', detail, where })
    },
    skip(id, detail) {
      return this.add({ id, status: 'skip', detail })
    },
    /** Applies the known-failure list, prints the outcome, writes the JSON; returns it. */
    finish(extra = {}) {
      return finishReport(part, checks, performance.now() - started, extra, options)
    },
  }
}

function finishReport(part, checks, ms, extra, options) {
  const {
    knownFile = KNOWN_FAILURES_FILE,
    reportsDir = REPORTS_DIR,
    log = (line) => console.log(line),
  } = options
  const known = knownFailures(knownFile)
  const suites = new Set(checks.map((c) => suiteOf(c.id)))
  const byId = new Map(checks.map((c) => [c.id, c]))
  const failures = []
  const knownHit = []
  const knownPassed = []
  const stale = []
  let passed = 0
  let skipped = 0
  for (const c of checks) {
    const entry = known.get(c.id)
    if (c.status === 'pass') {
      if (entry === undefined) passed++
      else if (entry.mayPass !== undefined) {
        passed++
        knownPassed.push({ id: c.id, mayPass: entry.mayPass })
      } else stale.push({ id: c.id, detail: 'listed as a known failure but passes' })
    } else if (c.status === 'skip') skipped++
    else if (entry !== undefined) knownHit.push({ ...c, why: entry.why })
    else failures.push(c)
  }
  for (const id of known.keys()) {
    if (suites.has(suiteOf(id)) && !byId.has(id)) {
      stale.push({ id, detail: 'listed as a known failure but no such check ran in its suite' })
    }
  }
  for (const s of stale) {
    failures.push({
      id: `known-failures › ${s.id}`,
      status: 'fail',
      detail: `${s.detail}: remove it from .ci/known-failures.json`,
    })
  }

  for (const f of failures) {
    log(`\n✗ ${f.id}${f.where ? `  (${f.where})` : ''}`)
    if (f.detail) log(indent(f.detail))
  }
  if (knownHit.length > 0) {
    log(`\n${part}: ${knownHit.length} known failures (.ci/known-failures.json):`)
    for (const k of knownHit) log(`  ~ ${k.id} — ${k.why}`)
  }
  for (const k of knownPassed) {
    log(`\n${part}: listed as a known failure, passed this run (it may: ${k.mayPass}): ${k.id}`)
  }
  const newFailures = failures.filter((f) => !f.id.startsWith('known-failures › '))
  if (newFailures.length > 0) {
    log(
      `\n${part}: to accept these as known failures (only while a fix is on its way), add to .ci/known-failures.json:`,
    )
    for (const f of newFailures) {
      log(`    { "check": ${JSON.stringify(f.id)}, "why": "…" },`)
    }
  }
  const report = {
    part,
    passed,
    failed: failures.length,
    known: knownHit.length,
    skipped,
    seconds: Math.round(ms / 100) / 10,
    failures: failures.map(({ id, detail, where }) => ({ id, detail, where })),
    knownFailures: knownHit.map(({ id, why, detail }) => ({ id, why, detail })),
    knownPassed,
    skips: checks.filter((c) => c.status === 'skip').map(({ id, detail }) => ({ id, detail })),
    ...extra,
  }
  mkdirSync(reportsDir, { recursive: true })
  writeFileSync(join(reportsDir, `${part}.json`), `${JSON.stringify(report, null, 2)}\n`)
  log(
    `\n${part}: ${passed} passed, ${failures.length} failed, ${knownHit.length} known failures, ${skipped} skipped (${report.seconds} s)`,
  )
  return report
}

function indent(text) {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')
}
