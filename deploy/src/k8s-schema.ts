/**
 * @module
 * Kubernetes objects checked against the Kubernetes API's schemas, offline, in two ways:
 *
 * 1. **Schema** — `kubernetes-models` ships, per kind, a validator compiled (by ajv) from
 *    the Kubernetes OpenAPI definitions: required fields, types, enums, formats,
 *    int-or-string and quantities. `@kubernetes-models/prometheus-operator` does the
 *    same from the prometheus-operator CRDs' OpenAPI schemas (ServiceMonitor,
 *    PrometheusRule). Those schemas, like the API server's, accept unknown fields.
 * 2. **Unknown fields** — so each object is also type-checked, as an object literal,
 *    against the same packages' TypeScript interfaces (generated from the same
 *    definitions): TypeScript's excess-property check names any field the schema does
 *    not define (`readinessprobe`, `securityContext.runAsNonroot`), at any depth.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import ts from 'typescript'
import type { K8sObject } from './kustomize.ts'
import { idOf } from './kustomize.ts'
import { DEPLOY_DIR } from './paths.ts'

const require = createRequire(import.meta.url)

/** The module (and interface) describing an object's kind. */
function modelOf(o: K8sObject): { module: string; iface: string } {
  const base = o.apiVersion.startsWith('monitoring.coreos.com/')
    ? '@kubernetes-models/prometheus-operator'
    : 'kubernetes-models'
  return { module: `${base}/${o.apiVersion}/${o.kind}`, iface: `I${o.kind}` }
}

interface ModelClass {
  new (data: unknown): { validate(): void }
}

/** Schema errors of one object (empty when valid); an unknown kind is an error. */
export function schemaErrors(o: K8sObject): string[] {
  const { module } = modelOf(o)
  let exported: Record<string, ModelClass>
  try {
    exported = require(module) as Record<string, ModelClass>
  } catch {
    return [`${idOf(o)}: no schema for ${o.apiVersion} ${o.kind}`]
  }
  const Model = exported[o.kind]
  if (Model === undefined) return [`${idOf(o)}: no schema for ${o.apiVersion} ${o.kind}`]
  try {
    new Model(forSchema(o)).validate()
    return []
  } catch (error) {
    const e = error as { errors?: Array<{ instancePath: string; message?: string }> }
    return (e.errors ?? [{ instancePath: '', message: String(error) }]).map(
      (x) => `${idOf(o)}: ${x.instancePath || '/'} ${x.message ?? ''}`,
    )
  }
}

// kustomize writes long Secret values as base64 in lines; the API server decodes them
// with Go's base64 decoder, which skips newlines, while the schema's "byte" format does not.
function forSchema(o: K8sObject): K8sObject {
  if (o.kind !== 'Secret' || o.data === undefined) return o
  const data = Object.fromEntries(
    Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replaceAll('\n', '')]),
  )
  return { ...o, data }
}

/**
 * Fields the kinds' definitions do not have, found by TypeScript's excess-property check
 * over every object at once; each message names the object and the field.
 */
export function unknownFieldErrors(objects: readonly K8sObject[]): string[] {
  // Inside deploy/ so the packages resolve from deploy/node_modules.
  const cacheRoot = join(DEPLOY_DIR, 'node_modules/.cache')
  mkdirSync(cacheRoot, { recursive: true })
  const dir = mkdtempSync(join(cacheRoot, 'k8s-fields-'))
  try {
    const lines: string[] = []
    const owners: string[] = []
    objects.forEach((o, i) => {
      const { module, iface } = modelOf(o)
      lines.push(`import type { ${iface} as T${i} } from '${module}'`)
      owners.push(idOf(o))
    })
    objects.forEach((o, i) => {
      lines.push(`export const o${i} = ${JSON.stringify(o, null, 1)} satisfies T${i}`)
    })
    const source = lines.join('\n')
    const file = join(dir, 'objects.ts')
    writeFileSync(file, source)
    const program = ts.createProgram([file], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2022,
      types: [],
    })
    const sf = program.getSourceFile(file)!
    const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line
    const statementLines = sf.statements
      .filter(ts.isVariableStatement)
      .map((s) => [lineOf(s.getStart(sf)), lineOf(s.getEnd())] as const)
    return ts.getPreEmitDiagnostics(program, sf).map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, ' ')
      const line = d.start === undefined ? -1 : lineOf(d.start)
      const index = statementLines.findIndex(([a, b]) => line >= a && line <= b)
      const at = d.start === undefined ? '' : ` (${fieldPath(sf, d.start)})`
      return `${owners[index] ?? 'objects.ts'}${at}: ${text}`
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// The property path to the node at `pos`, e.g. spec.template.spec.containers[0].bogus.
function fieldPath(sf: ts.SourceFile, pos: number): string {
  const path: string[] = []
  const visit = (node: ts.Node): void => {
    if (pos < node.getStart(sf) || pos >= node.getEnd()) return
    if (ts.isPropertyAssignment(node)) path.push(JSON.parse(node.name.getText(sf)) as string)
    if (ts.isArrayLiteralExpression(node)) {
      const i = node.elements.findIndex((e) => pos >= e.getStart(sf) && pos < e.getEnd())
      if (i >= 0) path.push(`[${i}]`)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return path.join('.').replaceAll('.[', '[')
}
