/**
 * @module
 * Reading rendered manifests the way the kubelet would: a workload's pod spec, its app
 * container, and the environment that container starts with (ConfigMaps and Secrets of
 * the same render resolved).
 */
import { join } from 'node:path'
import type { K8sObject } from './kustomize.ts'
import { kustomize } from './kustomize.ts'
import { K8S_DIR } from './paths.ts'

/** The example's services, each a Deployment of the same name. */
export const APP_SERVICES = ['gateway', 'users', 'payments', 'delivery'] as const
/** One of them. */
export type AppService = (typeof APP_SERVICES)[number]

/** A container as the manifests here write one (the fields the checks read). */
export interface Container {
  name: string
  image: string
  env?: Array<{
    name: string
    value?: string
    valueFrom?: {
      configMapKeyRef?: { name: string; key: string }
      secretKeyRef?: { name: string; key: string }
    }
  }>
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>
  ports?: Array<{ name?: string; containerPort: number }>
  readinessProbe?: Probe
  livenessProbe?: Probe
  startupProbe?: Probe
  lifecycle?: { preStop?: unknown }
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] } }
}

/** A probe. */
export interface Probe {
  httpGet?: { path: string; port: string | number }
  grpc?: { port: number; service?: string }
  exec?: unknown
  tcpSocket?: { port: string | number }
}

/** A pod spec (the fields read here). */
export interface PodSpec {
  containers: Container[]
  enableServiceLinks?: boolean
  automountServiceAccountToken?: boolean
  terminationGracePeriodSeconds?: number
  securityContext?: Record<string, unknown>
  volumes?: Array<Record<string, unknown>>
}

/** Renders a kustomization under deploy/k8s (`overlays/dev`, `base` ...). */
export function render(dir: string): K8sObject[] {
  return kustomize(join(K8S_DIR, dir))
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job'])

/** Objects that run pods. */
export function workloads(objects: readonly K8sObject[]): K8sObject[] {
  return objects.filter((o) => WORKLOADS.has(o.kind))
}

/** A workload's pod spec. */
export function podSpecOf(o: K8sObject): PodSpec {
  return (o.spec as { template: { spec: PodSpec } }).template.spec
}

/** The Deployment of one of the example's services. */
export function deploymentOf(objects: readonly K8sObject[], service: AppService): K8sObject {
  const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === service)
  if (d === undefined) throw new Error(`no Deployment ${service}`)
  return d
}

/** Finds an object by kind and name. */
export function find(
  objects: readonly K8sObject[],
  kind: string,
  name: string,
): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name)
}

/**
 * The environment a container starts with: `envFrom` first, then `env` (later wins, as
 * in Kubernetes). References to objects outside the render (prod's database Secret)
 * resolve to `undefined` and are listed in `external`.
 */
export function containerEnv(
  objects: readonly K8sObject[],
  container: Container,
): { env: Record<string, string>; external: string[] } {
  const env: Record<string, string> = {}
  const external: string[] = []
  const dataOf = (kind: 'ConfigMap' | 'Secret', name: string) => {
    const o = find(objects, kind, name)
    if (o === undefined) {
      external.push(`${kind}/${name}`)
      return undefined
    }
    const data = (o.data ?? {}) as Record<string, string>
    return kind === 'Secret'
      ? Object.fromEntries(
          Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
        )
      : data
  }
  for (const from of container.envFrom ?? []) {
    const data = from.configMapRef
      ? dataOf('ConfigMap', from.configMapRef.name)
      : from.secretRef
        ? dataOf('Secret', from.secretRef.name)
        : undefined
    Object.assign(env, data)
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value
    const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef
    if (ref !== undefined) {
      const data = dataOf(e.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret', ref.name)
      const value = data?.[ref.key]
      if (value !== undefined) env[e.name] = value
    }
  }
  return { env, external }
}
