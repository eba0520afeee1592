/**
 * @module
 * Every PromQL expression deploy/ ships — rules, dashboard panels, variables and
 * annotations, prometheus-adapter's queries — and the check that each one reads only
 * series the example app exports, by labels they really carry.
 */
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { Exposition } from './exposition.ts'
import { ADAPTER_FILE, DASHBOARD_FILE, RULES_FILE } from './paths.ts'
import type { PromqlRefs } from './promql.ts'
import { expandGrafanaVariables, promqlRefs } from './promql.ts'

/** One expression and where it is. */
export interface Query {
  where: string
  expr: string
}

/**
 * Labels Prometheus adds to every scraped series (target labels): job and instance
 * always, namespace, pod and service from both scrape setups shipped (the ServiceMonitor and
 * deploy/observability/prometheus/prometheus.yml's relabeling; a test checks the latter).
 */
export const TARGET_LABELS: readonly string[] = ['job', 'instance', 'namespace', 'pod', 'service']

interface RuleFile {
  groups: Array<{
    name: string
    rules: Array<{ record?: string; alert?: string; expr: string; labels?: Record<string, string> }>
  }>
}

/** The rules file's groups. */
export function loadRules(): RuleFile {
  return parseYaml(readFileSync(RULES_FILE, 'utf8')) as RuleFile
}

/** Every expression in the rules, the dashboard and the adapter config. */
export function allQueries(): Query[] {
  const out: Query[] = []
  for (const g of loadRules().groups) {
    for (const r of g.rules) out.push({ where: `rules.yml ${r.record ?? r.alert}`, expr: r.expr })
  }
  out.push(...dashboardQueries())
  const adapter = parseYaml(readFileSync(ADAPTER_FILE, 'utf8')) as {
    rules: Array<{ seriesQuery: string; metricsQuery: string; name: { as: string } }>
  }
  for (const r of adapter.rules) {
    out.push({ where: `prometheus-adapter ${r.name.as} seriesQuery`, expr: r.seriesQuery })
    // The adapter's template, filled in as it would for a Pods metric of one namespace.
    const metric = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(r.seriesQuery)?.[1] ?? ''
    out.push({
      where: `prometheus-adapter ${r.name.as} metricsQuery`,
      expr: r.metricsQuery
        .replaceAll('<<.Series>>', metric)
        .replaceAll('<<.LabelMatchers>>', 'namespace="sturdy",pod=~"gateway-.*"')
        .replaceAll('<<.GroupBy>>', 'pod'),
    })
  }
  return out
}

interface Panel {
  title?: string
  targets?: Array<{ expr?: string }>
  panels?: Panel[]
}

/** The dashboard's expressions: panel targets, query variables, annotations. */
export function dashboardQueries(): Query[] {
  const dash = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    panels: Panel[]
    templating: { list: Array<{ name: string; type: string; query?: { query: string } | string }> }
    annotations: { list: Array<{ name: string; expr?: string }> }
  }
  const out: Query[] = []
  const visit = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) {
        if (t.expr !== undefined) out.push({ where: `dashboard "${p.title}"`, expr: t.expr })
      }
      visit(p.panels ?? [])
    }
  }
  visit(dash.panels)
  for (const v of dash.templating.list) {
    if (v.type !== 'query') continue
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '')
    const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(q)
    if (m === null) throw new Error(`dashboard variable ${v.name}: expected label_values(...)`)
    // label_values(selector, label): the selector must select, the label must be on it.
    out.push({ where: `dashboard variable $${v.name}`, expr: `count by (${m[2]}) (${m[1]})` })
  }
  for (const a of dash.annotations.list) {
    if (a.expr !== undefined) out.push({ where: `dashboard annotation "${a.name}"`, expr: a.expr })
  }
  return out.map((q) => ({ ...q, expr: expandGrafanaVariables(q.expr) }))
}

/**
 * The label names of each recorded series: the labels its expression aggregates by
 * (`le` excepted: a quantile drops it) and the rule's own labels.
 */
export function recordedSeries(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const g of loadRules().groups) {
    for (const r of g.rules) {
      if (r.record === undefined) continue
      const refs = promqlRefs(r.expr)
      const labels = new Set(refs.groupings.flatMap((x) => x.labels).filter((l) => l !== 'le'))
      for (const l of Object.keys(r.labels ?? {})) labels.add(l)
      out.set(r.record, labels)
    }
  }
  return out
}

/**
 * What is wrong with `queries` against what the app exports: unknown metrics, labels a
 * selector matches on that its metric does not carry, grouping labels no series in
 * scope carries. Empty when all is well.
 */
export function checkQueries(
  queries: readonly Query[],
  exported: Exposition,
  recorded: Map<string, Set<string>>,
): string[] {
  const problems: string[] = []
  const labelsOf = (metric: string): Set<string> | undefined => {
    const own = exported.get(metric) ?? recorded.get(metric)
    return own === undefined ? undefined : new Set([...own, ...TARGET_LABELS])
  }
  for (const q of queries) {
    let refs: PromqlRefs
    try {
      refs = promqlRefs(q.expr)
    } catch (error) {
      problems.push(`${q.where}: ${(error as Error).message}`)
      continue
    }
    for (const s of refs.selectors) {
      const labels = labelsOf(s.metric)
      if (labels === undefined) {
        problems.push(`${q.where}: ${s.metric} is not exported by the app`)
        continue
      }
      for (const l of s.labels) {
        if (!labels.has(l)) problems.push(`${q.where}: ${s.metric} has no label ${l}`)
      }
    }
    for (const g of refs.groupings) {
      const inScope = new Set(g.scope.flatMap((s) => [...(labelsOf(s.metric) ?? [])]))
      for (const l of g.labels) {
        if (!inScope.has(l)) {
          problems.push(
            `${q.where}: grouping label ${l} is on none of ${g.scope.map((s) => s.metric).join(', ')}`,
          )
        }
      }
    }
  }
  return problems
}
