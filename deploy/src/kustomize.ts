/**
 * @module
 * A kustomize renderer for the subset of kustomization fields deploy/k8s uses, so the
 * overlays are rendered and checked on a machine with no kustomize binary. Any other
 * field is refused, loudly: a manifest cannot rely on something this does not render.
 * When `kubectl` (with kustomize v5) is on the machine, a test renders every overlay
 * with it too and compares the two outputs object by object.
 *
 * Supported: `resources` (files and directories holding a kustomization), `namespace`,
 * `images`, `replicas`, `patches` (JSON 6902, inline or from a file, with a `target`),
 * `configMapGenerator` / `secretGenerator` (`literals`, `files`, `behavior`,
 * `options`), `generatorOptions`. Generated names get kustomize's content hash suffix
 * (the same algorithm, so names match the real tool's), and references to them from
 * pod specs (`envFrom`, `valueFrom`, volumes) are rewritten.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { parseAllDocuments, parse as parseYaml } from 'yaml'

/** A Kubernetes object as YAML gives it. */
export type K8sObject = {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; [key: string]: unknown }
  [key: string]: unknown
}

/** Raised for a kustomization this renderer cannot render exactly. */
export class KustomizeError extends Error {
  override readonly name = 'KustomizeError'
}

const FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'replicas',
  'patches',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
])

interface GeneratorArgs {
  name: string
  behavior?: 'create' | 'merge' | 'replace'
  literals?: string[]
  files?: string[]
  type?: string
  options?: GeneratorOptions
}
interface GeneratorOptions {
  labels?: Record<string, string>
  annotations?: Record<string, string>
  disableNameSuffixHash?: boolean
}
interface Kustomization {
  resources?: string[]
  namespace?: string
  images?: Array<{ name: string; newName?: string; newTag?: string; digest?: string }>
  replicas?: Array<{ name: string; count: number }>
  patches?: Array<{ path?: string; patch?: string; target?: PatchTarget }>
  configMapGenerator?: GeneratorArgs[]
  secretGenerator?: GeneratorArgs[]
  generatorOptions?: GeneratorOptions
}
interface PatchTarget {
  group?: string
  version?: string
  kind?: string
  name?: string
}

// Objects from generators carry this until the top-level build hashes their names.
const GENERATED = Symbol('generated')
type Generated = K8sObject & { [GENERATED]?: { hash: boolean } }

/** Renders the kustomization in `dir` as `kubectl kustomize dir` would. */
export function kustomize(dir: string): K8sObject[] {
  const objects = build(resolve(dir))
  return finalizeNames(objects)
}

function build(dir: string): Generated[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((f) => join(dir, f))
    .find((f) => existsSync(f))
  if (file === undefined) throw new KustomizeError(`no kustomization in ${dir}`)
  const k = parseYaml(readFileSync(file, 'utf8')) as Kustomization & Record<string, unknown>
  for (const key of Object.keys(k)) {
    if (!FIELDS.has(key)) throw new KustomizeError(`${file}: field "${key}" is not supported`)
  }
  if (k.kind !== undefined && k.kind !== 'Kustomization') {
    throw new KustomizeError(`${file}: kind ${String(k.kind)} is not supported`)
  }

  let objects: Generated[] = []
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry)
    const loaded = statSync(path).isDirectory() ? build(path) : readObjects(path)
    for (const o of loaded) {
      if (objects.some((x) => sameId(x, o))) throw new KustomizeError(`${idOf(o)} defined twice`)
      objects.push(o)
    }
  }
  objects = generate(objects, dir, k)
  for (const p of k.patches ?? []) objects = applyPatch(objects, dir, p)
  if (k.namespace !== undefined) setNamespace(objects, k.namespace)
  for (const image of k.images ?? []) setImage(objects, image)
  for (const r of k.replicas ?? []) setReplicas(objects, r)
  return objects
}

function readObjects(path: string): Generated[] {
  const out: Generated[] = []
  for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
    if (doc.errors.length > 0) throw new KustomizeError(`${path}: ${doc.errors[0]!.message}`)
    const o = doc.toJS() as K8sObject | null
    if (o === null) continue
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || !o.metadata?.name) {
      throw new KustomizeError(`${path}: an object without apiVersion, kind or metadata.name`)
    }
    out.push(o)
  }
  return out
}

// --- generators ----------------------------------------------------------------------

function generate(objects: Generated[], dir: string, k: Kustomization): Generated[] {
  const result = [...objects]
  const gens = [
    ...(k.configMapGenerator ?? []).map((g) => ['ConfigMap', g] as const),
    ...(k.secretGenerator ?? []).map((g) => ['Secret', g] as const),
  ]
  for (const [kind, g] of gens) {
    const data = generatorData(dir, g)
    const options = { ...k.generatorOptions, ...g.options }
    const behavior = g.behavior ?? 'create'
    const existing = result.find(
      (o) => o.kind === kind && o.metadata.name === g.name && o[GENERATED] !== undefined,
    )
    if (behavior === 'create') {
      if (existing !== undefined) throw new KustomizeError(`${kind} ${g.name} generated twice`)
      const o: Generated = {
        apiVersion: 'v1',
        kind,
        metadata: {
          name: g.name,
          ...(options.annotations === undefined ? {} : { annotations: { ...options.annotations } }),
          ...(options.labels === undefined ? {} : { labels: { ...options.labels } }),
        },
        ...(kind === 'Secret' ? { type: g.type ?? 'Opaque' } : {}),
        data: kind === 'Secret' ? encodeSecret(data) : data,
      }
      o[GENERATED] = { hash: options.disableNameSuffixHash !== true }
      result.push(o)
    } else {
      if (existing === undefined) {
        throw new KustomizeError(`${kind} ${g.name}: behavior ${behavior} needs a base generator`)
      }
      const added = kind === 'Secret' ? encodeSecret(data) : data
      existing.data =
        behavior === 'merge' ? { ...(existing.data as Record<string, string>), ...added } : added
      if (options.labels !== undefined) {
        existing.metadata.labels = { ...(existing.metadata.labels as object), ...options.labels }
      }
      if (options.disableNameSuffixHash === true) existing[GENERATED] = { hash: false }
    }
  }
  return result
}

function generatorData(dir: string, g: GeneratorArgs): Record<string, string> {
  const data: Record<string, string> = {}
  for (const literal of g.literals ?? []) {
    const eq = literal.indexOf('=')
    if (eq <= 0) throw new KustomizeError(`${g.name}: literal "${literal}" is not key=value`)
    data[literal.slice(0, eq)] = unquote(literal.slice(eq + 1))
  }
  for (const entry of g.files ?? []) {
    const eq = entry.indexOf('=')
    const [key, path] =
      eq > 0 ? [entry.slice(0, eq), entry.slice(eq + 1)] : [basename(entry), entry]
    const full = resolve(dir, path)
    if (!full.startsWith(`${dir}/`)) {
      throw new KustomizeError(`${g.name}: ${path} is outside ${dir} (kustomize's load restrictor)`)
    }
    data[key] = readFileSync(full, 'utf8')
  }
  return data
}

// kustomize strips one pair of matching quotes around a literal's value.
function unquote(value: string): string {
  const q = value[0]
  return value.length >= 2 && (q === '"' || q === "'") && value.endsWith(q)
    ? value.slice(1, -1)
    : value
}

function encodeSecret(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, base64Lines(v)]))
}

// As kustomize writes a Secret's values: base64 in lines of 70, each ended by a newline
// once there is more than one (encoded values of 70 characters or more).
function base64Lines(value: string): string {
  const encoded = Buffer.from(value, 'utf8').toString('base64')
  if (encoded.length < 70) return encoded
  return encoded.replace(/.{1,70}/g, (line) => `${line}\n`)
}

/**
 * kustomize's name hash (api/hasher): SHA-256 of the JSON of the object's kind, name,
 * data (and type for a Secret) with sorted keys and Go's HTML escaping; the first ten hex
 * digits with 0 1 3 a e swapped for g h k m t (no vowels, no look-alikes). One quirk kept
 * as is: kustomize v5 looks the name up as a single field called "metadata/name", finds
 * nothing and hashes an empty name — so equal data under two names hashes the same.
 */
export function kustomizeHash(o: K8sObject): string {
  const data = o.data as Record<string, string> | undefined
  const encoded: Record<string, unknown> = { kind: o.kind, name: '', data: data ?? '' }
  if (o.kind === 'Secret') encoded.type = o.type ?? ''
  const hex = createHash('sha256').update(goJson(encoded)).digest('hex').slice(0, 10)
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' }
  return [...hex].map((c) => swap[c] ?? c).join('')
}

// encoding/json's Marshal of map[string]interface{}: sorted keys, <>& and U+2028/9 escaped.
function goJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${goJson(k)}:${goJson((value as Record<string, unknown>)[k])}`)
    return `{${entries.join(',')}}`
  }
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

function finalizeNames(objects: Generated[]): K8sObject[] {
  const renames = new Map<string, string>()
  for (const o of objects) {
    if (o[GENERATED]?.hash === true) {
      const name = `${o.metadata.name}-${kustomizeHash(o)}`
      renames.set(`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, name)
      o.metadata.name = name
    }
    delete o[GENERATED]
  }
  if (renames.size > 0) {
    for (const o of objects) rewriteReferences(o, o.metadata.namespace ?? '', renames)
  }
  return objects
}

// References from pod specs to ConfigMaps and Secrets, wherever a pod spec sits.
function rewriteReferences(node: unknown, ns: string, renames: Map<string, string>): void {
  if (Array.isArray(node)) {
    for (const item of node) rewriteReferences(item, ns, renames)
    return
  }
  if (node === null || typeof node !== 'object') return
  const o = node as Record<string, unknown>
  const rename = (kind: string, holder: Record<string, unknown>, field: string) => {
    const to = renames.get(`${kind}/${ns}/${String(holder[field])}`)
    if (to !== undefined) holder[field] = to
  }
  for (const [key, value] of Object.entries(o)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      rewriteReferences(value, ns, renames)
      continue
    }
    const v = value as Record<string, unknown>
    if (key === 'configMapRef' || key === 'configMapKeyRef' || key === 'configMap') {
      rename('ConfigMap', v, 'name')
    } else if (key === 'secretRef' || key === 'secretKeyRef') {
      rename('Secret', v, 'name')
    } else if (key === 'secret' && typeof v.secretName === 'string') {
      rename('Secret', v, 'secretName')
    }
    rewriteReferences(v, ns, renames)
  }
}

// --- transformers --------------------------------------------------------------------

function applyPatch(
  objects: Generated[],
  dir: string,
  p: { path?: string; patch?: string; target?: PatchTarget },
): Generated[] {
  const text =
    p.patch ?? (p.path === undefined ? undefined : readFileSync(resolve(dir, p.path), 'utf8'))
  if (text === undefined) throw new KustomizeError('a patch needs `patch` or `path`')
  const ops = parseYaml(text) as unknown
  if (!Array.isArray(ops)) {
    throw new KustomizeError('only JSON 6902 patches (a list of operations) are supported')
  }
  if (p.target === undefined) throw new KustomizeError('a JSON 6902 patch needs a target')
  const target = p.target
  for (const key of Object.keys(target)) {
    if (!['group', 'version', 'kind', 'name'].includes(key)) {
      throw new KustomizeError(`patch target field "${key}" is not supported`)
    }
  }
  if (target.name !== undefined && /[\\^$.*+?()[\]{}|]/.test(target.name)) {
    throw new KustomizeError(`patch target name "${target.name}": regular expressions unsupported`)
  }
  const hits = objects.filter((o) => matches(o, target))
  if (hits.length === 0)
    throw new KustomizeError(`patch target ${JSON.stringify(target)} matched nothing`)
  for (const o of hits) for (const op of ops as JsonPatchOp[]) applyOp(o, op)
  return objects
}

function matches(o: K8sObject, t: PatchTarget): boolean {
  const [group, version] = o.apiVersion.includes('/')
    ? (o.apiVersion.split('/') as [string, string])
    : ['', o.apiVersion]
  return (
    (t.kind === undefined || t.kind === o.kind) &&
    (t.name === undefined || t.name === o.metadata.name) &&
    (t.group === undefined || t.group === group) &&
    (t.version === undefined || t.version === version)
  )
}

interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test'
  path: string
  value?: unknown
}

/** Applies one RFC 6902 operation (add, remove, replace, test) in place. */
export function applyOp(doc: unknown, op: JsonPatchOp): void {
  const parts = op.path
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
  if (parts.length === 0) throw new KustomizeError(`patch path "${op.path}" is the whole object`)
  let parent: unknown = doc
  for (const part of parts.slice(0, -1)) {
    parent = step(parent, part, op.path)
  }
  const last = parts.at(-1)!
  const clone = (v: unknown) => structuredClone(v)
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last)
    if (!Number.isInteger(index) || index < 0 || index > parent.length) {
      throw new KustomizeError(`patch path "${op.path}": bad index`)
    }
    if (op.op === 'add') parent.splice(index, 0, clone(op.value))
    else if (index >= parent.length)
      throw new KustomizeError(`patch path "${op.path}": no such item`)
    else if (op.op === 'remove') parent.splice(index, 1)
    else if (op.op === 'replace') parent[index] = clone(op.value)
    else if (JSON.stringify(parent[index]) !== JSON.stringify(op.value)) {
      throw new KustomizeError(`patch test failed at "${op.path}"`)
    }
    return
  }
  if (parent === null || typeof parent !== 'object') {
    throw new KustomizeError(`patch path "${op.path}": parent is not an object`)
  }
  const o = parent as Record<string, unknown>
  if (op.op === 'add') o[last] = clone(op.value)
  else if (!(last in o)) throw new KustomizeError(`patch path "${op.path}" does not exist`)
  else if (op.op === 'remove') delete o[last]
  else if (op.op === 'replace') o[last] = clone(op.value)
  else if (op.op === 'test') {
    if (JSON.stringify(o[last]) !== JSON.stringify(op.value)) {
      throw new KustomizeError(`patch test failed at "${op.path}"`)
    }
  } else throw new KustomizeError(`patch op "${String(op.op)}" is not supported`)
}

function step(node: unknown, part: string, path: string): unknown {
  const next = Array.isArray(node)
    ? node[Number(part)]
    : node !== null && typeof node === 'object'
      ? (node as Record<string, unknown>)[part]
      : undefined
  if (next === undefined) throw new KustomizeError(`patch path "${path}" does not exist`)
  return next
}

// Kinds without a namespace, among those kustomize knows.
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'APIService',
])

function setNamespace(objects: K8sObject[], namespace: string): void {
  for (const o of objects) {
    if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
      throw new KustomizeError(`${o.kind}: subjects' namespaces are not rewritten here`)
    }
    if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = namespace
  }
}

function setImage(
  objects: K8sObject[],
  image: { name: string; newName?: string; newTag?: string; digest?: string },
): void {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n)
    } else if (node !== null && typeof node === 'object') {
      const o = node as Record<string, unknown>
      for (const key of ['containers', 'initContainers']) {
        const list = o[key]
        if (!Array.isArray(list)) continue
        for (const c of list as Array<{ image?: string }>) {
          if (typeof c.image === 'string') c.image = retag(c.image, image)
        }
      }
      for (const v of Object.values(o)) visit(v)
    }
  }
  for (const o of objects) visit(o)
}

function retag(
  current: string,
  image: { name: string; newName?: string; newTag?: string; digest?: string },
): string {
  const at = current.indexOf('@')
  const withoutDigest = at >= 0 ? current.slice(0, at) : current
  const colon = withoutDigest.lastIndexOf(':')
  const hasTag = colon > withoutDigest.lastIndexOf('/')
  const name = hasTag ? withoutDigest.slice(0, colon) : withoutDigest
  if (name !== image.name) return current
  const suffix =
    image.digest !== undefined
      ? `@${image.digest}`
      : image.newTag !== undefined
        ? `:${image.newTag}`
        : current.slice(name.length)
  return `${image.newName ?? name}${suffix}`
}

const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'ReplicationController'])

function setReplicas(objects: K8sObject[], r: { name: string; count: number }): void {
  const hits = objects.filter((o) => SCALABLE.has(o.kind) && o.metadata.name === r.name)
  if (hits.length === 0) throw new KustomizeError(`replicas: nothing named ${r.name}`)
  for (const o of hits) (o.spec as Record<string, unknown>).replicas = r.count
}

function sameId(a: K8sObject, b: K8sObject): boolean {
  return idOf(a) === idOf(b)
}

/** `apiVersion kind namespace/name`, the identity kustomize keys objects by. */
export function idOf(o: K8sObject): string {
  return `${o.apiVersion.split('/')[0]} ${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`
}
