/**
 * @module
 * What a PromQL expression reads: every series selector (metric name and the labels it
 * matches on) and every label it groups or joins by — from Prometheus' own grammar
 * (`@prometheus-io/lezer-promql`, the parser of Prometheus' web UI), not a regex.
 */
import { parser } from '@prometheus-io/lezer-promql'

/** A series selector: `metric{label="..."}`. */
export interface Selector {
  metric: string
  labels: string[]
}

/** Labels used by `by`/`without`, `on`/`ignoring`, `group_left`/`group_right`, with the selectors they apply to. */
export interface Grouping {
  labels: string[]
  /** The selectors inside the aggregation or on either side of the join. */
  scope: Selector[]
}

/** What one expression reads. */
export interface PromqlRefs {
  selectors: Selector[]
  groupings: Grouping[]
}

/** Raised for an expression Prometheus' grammar does not accept. */
export class PromqlSyntaxError extends Error {
  override readonly name = 'PromqlSyntaxError'
}

interface SyntaxNode {
  name: string
  from: number
  to: number
  parent: SyntaxNode | null
  firstChild: SyntaxNode | null
  nextSibling: SyntaxNode | null
  getChildren(type: string): SyntaxNode[]
  getChild(type: string): SyntaxNode | null
}

/** Parses `expr` and lists what it reads; throws `PromqlSyntaxError` on a syntax error. */
export function promqlRefs(expr: string): PromqlRefs {
  const tree = parser.parse(expr)
  const selectors: Selector[] = []
  const groupings: Grouping[] = []
  const text = (n: SyntaxNode) => expr.slice(n.from, n.to)

  tree.iterate({
    enter(ref) {
      if (ref.type.isError) {
        throw new PromqlSyntaxError(`syntax error at ${ref.from} in: ${expr}`)
      }
      const node = ref.node as unknown as SyntaxNode
      if (node.name === 'VectorSelector') selectors.push(selectorOf(node, text, expr))
      if (node.name === 'AggregateExpr') {
        const modifier = node.getChild('AggregateModifier')
        if (modifier !== null) {
          groupings.push({
            labels: labelNames(modifier, text),
            scope: selectorsIn(node, text, expr),
          })
        }
      }
      if (node.name === 'BinaryExpr') {
        const clause = node.getChild('MatchingModifierClause')
        if (clause !== null) {
          groupings.push({ labels: labelNames(clause, text), scope: selectorsIn(node, text, expr) })
        }
      }
    },
  })
  return { selectors, groupings }
}

function selectorOf(node: SyntaxNode, text: (n: SyntaxNode) => string, expr: string): Selector {
  const id = node.getChild('Identifier')
  const labels: string[] = []
  let metric = id === null ? '' : text(id)
  const matchers = node.getChild('LabelMatchers')
  for (const m of matchers === null ? [] : childrenDeep(matchers)) {
    if (m.name !== 'UnquotedLabelMatcher' && m.name !== 'QuotedLabelMatcher') continue
    const name = m.getChild('LabelName') ?? m.getChild('QuotedLabelName')
    if (name === null) {
      // {"metric_name"}: a quoted metric name on its own (Prometheus 3 syntax).
      const str = m.getChild('StringLiteral')
      if (str !== null) metric = JSON.parse(text(str)) as string
      continue
    }
    const label = name.name === 'QuotedLabelName' ? (JSON.parse(text(name)) as string) : text(name)
    if (label === '__name__') {
      const value = m.getChild('StringLiteral')
      if (value !== null) metric = JSON.parse(text(value)) as string
    } else {
      labels.push(label)
    }
  }
  if (metric === '') throw new PromqlSyntaxError(`a selector without a metric name in: ${expr}`)
  return { metric, labels }
}

function selectorsIn(node: SyntaxNode, text: (n: SyntaxNode) => string, expr: string): Selector[] {
  return childrenDeep(node)
    .filter((n) => n.name === 'VectorSelector')
    .map((n) => selectorOf(n, text, expr))
}

function labelNames(node: SyntaxNode, text: (n: SyntaxNode) => string): string[] {
  return childrenDeep(node)
    .filter((n) => n.name === 'LabelName')
    .map(text)
}

function childrenDeep(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = []
  for (let c = node.firstChild; c !== null; c = c.nextSibling) {
    out.push(c, ...childrenDeep(c))
  }
  return out
}

/**
 * Grafana's variables replaced by values PromQL accepts, so a dashboard query parses:
 * `$__rate_interval` and friends become a duration, `$var` / `${var}` a plain word.
 */
export function expandGrafanaVariables(expr: string): string {
  return expr
    .replace(/\$__(rate_interval|interval|range)(_ms|_s)?\b/g, '5m')
    .replace(/\$\{[A-Za-z0-9_]+(:[a-z]+)?\}/g, 'x')
    .replace(/\$[A-Za-z_][A-Za-z0-9_]*/g, 'x')
}
