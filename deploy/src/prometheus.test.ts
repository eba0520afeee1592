import { execFile } from 'node:child_process'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, inject, it } from 'vitest'
import { parse as parseYaml, stringify } from 'yaml'
import { DASHBOARD_FILE, OBSERVABILITY_DIR } from './paths.ts'
import { promqlRefs } from './promql.ts'
import { allQueries, loadRules, TARGET_LABELS } from './queries.ts'

const run = promisify(execFile)
const PROM_DIR = join(OBSERVABILITY_DIR, 'prometheus')

/** Runs promtool; resolves with its exit code and output. */
async function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd, timeout: 120_000 })
    return { code: 0, out: stdout + stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout}${e.stderr}` }
  }
}

const skipWithout = (t: { skip: (note: string) => void }) => {
  if (!inject('promtool')) {
    t.skip(
      "promtool is missing and Debian's prometheus package could not be installed (scripts/ensure-apt.sh prometheus)",
    )
  }
}

describe('Prometheus rules (promtool)', () => {
  it('promtool check rules passes', async (t) => {
    skipWithout(t)
    const r = await promtool(['check', 'rules', 'rules.yml'], PROM_DIR)
    expect(r.out).toContain('SUCCESS')
    expect(r.code).toBe(0)
  })

  it('promtool test rules: every alert fires on its synthetic series', async (t) => {
    skipWithout(t)
    const r = await promtool(['test', 'rules', 'rules.test.yml'], PROM_DIR)
    expect(r.out).toContain('SUCCESS')
    expect(r.code).toBe(0)
  })

  it('every alert has a promtool unit test', () => {
    const tests = parseYaml(readFileSync(join(PROM_DIR, 'rules.test.yml'), 'utf8')) as {
      tests: Array<{ alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>
    }
    const fired = new Set(
      tests.tests.flatMap((x) =>
        (x.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname),
      ),
    )
    const alerts = loadRules().groups.flatMap((g) => g.rules.flatMap((r) => r.alert ?? []))
    expect(alerts.length).toBeGreaterThanOrEqual(7)
    expect(alerts.filter((a) => !fired.has(a))).toEqual([])
  })

  it('the unit tests can fail: a threshold moved makes promtool test rules fail', async (t) => {
    skipWithout(t)
    const dir = mkdtempSync(join(tmpdir(), 'sturdy-rules-'))
    try {
      cpSync(PROM_DIR, dir, { recursive: true })
      const rules = readFileSync(join(dir, 'rules.yml'), 'utf8')
      const moved = rules.replace(
        'sturdy:http_server_shed:ratio_rate5m > 0.05',
        'sturdy:http_server_shed:ratio_rate5m > 0.5',
      )
      expect(moved).not.toBe(rules)
      writeFileSync(join(dir, 'rules.yml'), moved)
      const r = await promtool(['test', 'rules', 'rules.test.yml'], dir)
      expect(r.code).not.toBe(0)
      expect(r.out).toContain('SturdyShedLoadSustained')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('Prometheus scrape configuration', () => {
  it('promtool check config passes (pod discovery swapped for a static target)', async (t) => {
    skipWithout(t)
    // Debian's Prometheus is built without Kubernetes service discovery, so promtool
    // there refuses kubernetes_sd_configs: everything else (relabeling regexes, rule
    // files) is checked with a static target in its place.
    const config = parseYaml(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<Record<string, unknown>>
    }
    const job = config.scrape_configs[0]!
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }])
    delete job.kubernetes_sd_configs
    job.static_configs = [{ targets: ['127.0.0.1:9090'] }]
    const dir = mkdtempSync(join(tmpdir(), 'sturdy-promcfg-'))
    try {
      cpSync(PROM_DIR, dir, { recursive: true })
      writeFileSync(join(dir, 'prometheus.yml'), stringify(config))
      const r = await promtool(['check', 'config', 'prometheus.yml'], dir)
      expect(r.out).toContain('SUCCESS')
      expect(r.code).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('relabeling gives every series the target labels the rules and dashboard group by', () => {
    const config = parseYaml(readFileSync(join(PROM_DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ relabel_configs: Array<{ target_label?: string }> }>
    }
    const set = new Set(config.scrape_configs[0]!.relabel_configs.map((r) => r.target_label))
    for (const l of TARGET_LABELS.filter((x) => x !== 'job' && x !== 'instance')) {
      expect(set.has(l), l).toBe(true)
    }
  })
})

describe('PromQL in rules, dashboard and adapter', () => {
  const queries = allQueries()

  it('finds every expression', () => {
    expect(queries.filter((q) => q.where.startsWith('rules.yml')).length).toBe(17)
    expect(queries.filter((q) => q.where.startsWith('dashboard')).length).toBeGreaterThanOrEqual(25)
    expect(queries.filter((q) => q.where.startsWith('prometheus-adapter')).length).toBe(2)
  })

  it.each(queries.map((q) => [q.where, q.expr]))(
    '%s parses with Prometheus’ grammar',
    (_, expr) => {
      expect(promqlRefs(expr).selectors.length).toBeGreaterThan(0)
    },
  )

  it('a syntax error is caught (the parser can fail)', () => {
    expect(() => promqlRefs('sum by (service (rate(x[5m]))')).toThrow(/syntax error/)
  })

  it('the dashboard is an importable Grafana dashboard', () => {
    const dash = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
      uid: string
      schemaVersion: number
      panels: Array<{
        id: number
        type: string
        gridPos: { x: number; w: number }
        datasource?: { uid: string }
      }>
      templating: { list: Array<{ name: string }> }
    }
    expect(dash.uid).toBe('sturdy-example')
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36)
    const ids = dash.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const p of dash.panels) {
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24)
      // Grafana's variable syntax, not a template string.
      if (p.type !== 'row') expect(p.datasource?.uid).toBe('$' + '{datasource}')
    }
    expect(dash.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace', 'service'])
    const rows = dash.panels
      .filter((p) => p.type === 'row')
      .map((p) => (p as unknown as { title: string }).title)
    expect(rows).toEqual([
      'RED per route',
      'Client calls per dependency (gateway)',
      'gRPC (users service, and the gateway calling it)',
      'Circuit breakers',
      'Retries and retry budget',
      'Shed load',
      'Drains',
    ])
  })
})
