import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createReport } from '../../scripts/lib/report.mjs'

function setup(known) {
  const dir = mkdtempSync(join(tmpdir(), 'sturdy-report-test-'))
  const knownFile = join(dir, 'known.json')
  writeFileSync(knownFile, JSON.stringify({ failures: known }))
  const lines = []
  const report = createReport('part', { knownFile, reportsDir: dir, log: (l) => lines.push(l) })
  return { report, dir, lines }
}

describe('known failures', () => {
  it('a listed failing check is a known failure, not a failure', () => {
    const { report, dir } = setup([{ check: 'tsc a › @sturdy/x › README:y:1', why: 'being fixed' }])
    report.pass('tsc a › @sturdy/x › entries')
    report.fail('tsc a › @sturdy/x › README:y:1', 'TS2345')
    const r = report.finish()
    expect([r.passed, r.failed, r.known]).toEqual([1, 0, 1])
    expect(JSON.parse(readFileSync(join(dir, 'part.json'), 'utf8')).knownFailures[0].why).toBe(
      'being fixed',
    )
  })

  it('a listed check that passes fails the run, so the list only shrinks', () => {
    const { report } = setup([{ check: 'tsc a › @sturdy/x › README:y:1', why: 'being fixed' }])
    report.pass('tsc a › @sturdy/x › README:y:1')
    const r = report.finish()
    expect([r.passed, r.failed, r.known]).toEqual([0, 1, 0])
    expect(r.failures[0].id).toBe('known-failures › tsc a › @sturdy/x › README:y:1')
  })

  it('a listed check that says why it may pass (mayPass) counts as passed when it does, and says so', () => {
    const id = 'reliability › t.ts › goodput at 90%'
    const { report, lines } = setup([
      { check: id, why: 'below target', mayPass: 'measured within noise of the target' },
    ])
    report.pass(id)
    const r = report.finish()
    expect([r.passed, r.failed, r.known]).toEqual([1, 0, 0])
    expect(r.knownPassed).toEqual([{ id, mayPass: 'measured within noise of the target' }])
    expect(lines.join('\n')).toContain('passed this run (it may: measured within noise')
    // And failing, it is a known failure as any other.
    const again = setup([{ check: id, why: 'below target', mayPass: 'noise' }])
    again.report.fail(id, '0.85 < 0.9')
    expect(again.report.finish().known).toBe(1)
    expect(() => setup([{ check: id, why: 'x', mayPass: '' }]).report.finish()).toThrow(/mayPass/)
  })

  it('a listed id that no longer exists fails only when its suite ran', () => {
    const { report } = setup([
      { check: 'tsc a › @sturdy/x › README:gone:1', why: 'renamed since' },
      { check: 'run bun › @sturdy/x › import @sturdy/x', why: 'suite not run here' },
    ])
    report.pass('tsc a › @sturdy/x › entries')
    const r = report.finish()
    expect(r.failures.map((f) => f.id)).toEqual([
      'known-failures › tsc a › @sturdy/x › README:gone:1',
    ])
  })

  it('an unlisted failure fails and is printed ready to list; skips are neither', () => {
    const { report, lines } = setup([])
    report.fail('run x › @sturdy/x › README:y:1', 'exited with code 1')
    report.skip('run bun › @sturdy/x › runtime', 'bun could not be installed')
    const r = report.finish()
    expect([r.passed, r.failed, r.known, r.skipped]).toEqual([0, 1, 0, 1])
    expect(lines.join('\n')).toContain('{ "check": "run x › @sturdy/x › README:y:1", "why": "…" },')
  })

  it('refuses an entry without a reason', () => {
    const { report } = setup([{ check: 'a › b › c' }])
    expect(() => report.finish()).toThrow(/non-empty "why"/)
  })
})
