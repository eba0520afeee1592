import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments } from 'yaml'
import { ConfigError, loadConfig } from '../../apps/example/src/config.ts'
import { schemaErrors, unknownFieldErrors } from './k8s-schema.ts'
import type { K8sObject } from './kustomize.ts'
import { idOf, KustomizeError, kustomize } from './kustomize.ts'
import {
  APP_SERVICES,
  containerEnv,
  deploymentOf,
  find,
  podSpecOf,
  render,
  workloads,
} from './manifests.ts'
import { K8S_DIR, KUSTOMIZATIONS } from './paths.ts'
import { monitoringFiles } from './sync.ts'

const renders = Object.fromEntries(KUSTOMIZATIONS.map((k) => [k, render(k)])) as Record<
  string,
  K8sObject[]
>
const OVERLAYS = ['overlays/dev', 'overlays/prod'] as const

/** kubectl's embedded kustomize, when this machine has a kubectl with kustomize v5. */
function kubectlKustomize(): ((dir: string) => K8sObject[]) | undefined {
  try {
    const version = execFileSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
    if (!/Kustomize Version: v5\./.test(version)) return undefined
  } catch {
    return undefined
  }
  return (dir) =>
    parseAllDocuments(execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' })).map(
      (d) => d.toJS() as K8sObject,
    )
}

describe('kustomize rendering', () => {
  it.each(KUSTOMIZATIONS)('%s renders', (dir) => {
    expect(renders[dir]!.length).toBeGreaterThan(0)
    const ids = renders[dir]!.map(idOf)
    expect(new Set(ids).size).toBe(ids.length)
  })

  // it.for, not it.each: the test context (t.skip) comes second.
  it.for(KUSTOMIZATIONS)(
    '%s renders exactly as kubectl kustomize (kustomize v5) does',
    (dir, t) => {
      const real = kubectlKustomize()
      if (real === undefined) {
        // Debian's kubernetes-client is kubectl 1.20 (kustomize v2) and no npm package ships
        // kustomize: nothing to install. The renderer still renders and validates every overlay.
        t.skip(
          'kubectl with kustomize v5 is not on this machine (Debian ships only kustomize v2): the comparison with the real kustomize is skipped',
        )
        return
      }
      const theirs = new Map(real(`${K8S_DIR}/${dir}`).map((o) => [idOf(o), o]))
      const ours = new Map(renders[dir]!.map((o) => [idOf(o), JSON.parse(JSON.stringify(o))]))
      expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort())
      for (const [id, o] of ours) {
        if (!isDeepStrictEqual(o, theirs.get(id)))
          expect({ id, o }).toEqual({ id, o: theirs.get(id) })
      }
    },
  )

  it('refuses what it does not render, instead of rendering it wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sturdy-kustomize-'))
    try {
      writeFileSync(join(dir, 'kustomization.yaml'), 'commonLabels:\n  a: b\n')
      expect(() => kustomize(dir)).toThrow(/field "commonLabels" is not supported/)
      writeFileSync(
        join(dir, 'kustomization.yaml'),
        'resources: [x.yaml]\npatches:\n  - target: {kind: Service, name: y}\n    patch: "[]"\n',
      )
      writeFileSync(join(dir, 'x.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\n')
      expect(() => kustomize(dir)).toThrow(KustomizeError)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('Kubernetes schemas (kubernetes-models, offline)', () => {
  it.each(KUSTOMIZATIONS)('every object of %s validates against its kind schema', (dir) => {
    expect(renders[dir]!.flatMap(schemaErrors)).toEqual([])
  })

  it('a wrong type is caught (the validator can fail)', () => {
    const d = structuredClone(deploymentOf(renders.base!, 'gateway'))
    const c = podSpecOf(d).containers[0]! as unknown as { ports: Array<{ containerPort: unknown }> }
    c.ports[0]!.containerPort = 'http'
    expect(schemaErrors(d)).toEqual([
      'apps Deployment /gateway: /spec/template/spec/containers/0/ports/0/containerPort must be integer',
    ])
  })

  it('no field the schemas do not define, in any render (a misspelt field is caught)', () => {
    const all = new Map<string, K8sObject>()
    for (const dir of KUSTOMIZATIONS) {
      for (const o of renders[dir]!) all.set(`${dir} ${idOf(o)}`, o)
    }
    // One deliberate typo in the same program: proves the check reports what it should.
    const typo = structuredClone(deploymentOf(renders.base!, 'payments'))
    typo.metadata.name = 'typo'
    ;(podSpecOf(typo).containers[0] as unknown as Record<string, unknown>).readinessprobe = {}
    const errors = unknownFieldErrors([...all.values(), typo])
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /^apps Deployment \/typo \(spec\.template\.spec\.containers\[0\]\.readinessprobe\): .*'"readinessprobe"' does not exist in type 'IContainer'/,
    )
  }, 120_000)
})

describe('workload policy', () => {
  const everyWorkload = OVERLAYS.flatMap((dir) =>
    workloads(renders[dir]!).map((w) => [`${dir} ${w.kind} ${w.metadata.name}`, w] as const),
  )

  it.each(everyWorkload)('%s: non-root, no privilege escalation, read-only root', (_, w) => {
    const pod = podSpecOf(w)
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: expect.any(Number),
      seccompProfile: { type: 'RuntimeDefault' },
    })
    expect(pod.securityContext?.runAsUser).not.toBe(0)
    expect(pod.automountServiceAccountToken).toBe(false)
    expect(pod.enableServiceLinks).toBe(false)
    for (const c of pod.containers) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
      })
      expect(c.resources?.requests).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      })
      expect(c.resources?.limits).toMatchObject({
        cpu: expect.any(String),
        memory: expect.any(String),
      })
      expect(c.readinessProbe).toBeDefined()
      expect(c.livenessProbe).toBeDefined()
    }
  })

  const appContainers = OVERLAYS.flatMap((dir) =>
    APP_SERVICES.map((s) => [dir, s, podSpecOf(deploymentOf(renders[dir]!, s))] as const),
  )

  it.each(appContainers)(
    '%s %s: probes on /readyz and /healthz of its port (gRPC health for users), no preStop',
    (_, s, pod) => {
      const c = pod.containers[0]!
      expect(pod.containers).toHaveLength(1)
      expect(c.image).toMatch(/^sturdy-example[:@]/)
      const portName = s === 'users' ? 'grpc' : 'http'
      const port = c.ports?.find((p) => p.name === portName)?.containerPort
      expect(port).toBe(Number(c.env?.find((e) => e.name === `${s.toUpperCase()}_PORT`)?.value))
      expect(c.ports?.find((p) => p.name === 'metrics')?.containerPort).toBe(9090)
      if (s === 'users') {
        // Readiness: the whole server ("": runs the readiness checks, NOT_SERVING while
        // draining); liveness and startup: the UserService (no database needed).
        expect(c.readinessProbe?.grpc).toEqual({ port })
        const live = { port, service: 'sturdy.example.user.v1.UserService' }
        expect(c.livenessProbe?.grpc).toEqual(live)
        expect(c.startupProbe?.grpc).toEqual(live)
      } else {
        expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' })
        expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' })
        expect(c.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' })
      }
      // The drain delay does a preStop sleep's job (docs/deploy.md).
      expect(c.lifecycle?.preStop).toBeUndefined()
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(0)
      expect(c.env?.find((e) => e.name === 'SERVICE')?.value).toBe(s)
    },
  )

  it.each(appContainers)(
    '%s %s: the environment passes the app’s own config validation',
    (dir, s, pod) => {
      const objects = renders[dir]!
      const { env, external } = containerEnv(objects, pod.containers[0]!)
      const needsDb = s === 'gateway' || s === 'users'
      // prod's database Secret is created out of band (docs/deploy.md); nothing else is.
      expect(external).toEqual(
        dir === 'overlays/prod' && needsDb ? ['Secret/sturdy-example-db'] : [],
      )
      if (needsDb && dir === 'overlays/dev') expect(env.DATABASE_URL).toMatch(/^postgres:\/\//)
      const config = loadConfig({ ...env, KUBERNETES_SERVICE_HOST: '10.0.0.1' })
      expect(config.services).toEqual([s])
      expect(config.host).toBe('0.0.0.0')
      expect(config.urls).toEqual({
        users: 'http://users',
        payments: 'http://payments',
        delivery: 'http://delivery',
      })
      expect(config.telemetry.exporter).toBe('otlp')
    },
  )

  it('service links would break the app: the reason every pod turns them off', () => {
    const objects = renders['overlays/dev']!
    const pod = podSpecOf(deploymentOf(objects, 'gateway'))
    const { env } = containerEnv(objects, pod.containers[0]!)
    // What the kubelet injects for a Service "users" when enableServiceLinks is on.
    const links = { USERS_PORT: 'tcp://10.96.0.12:80', USERS_SERVICE_HOST: '10.96.0.12' }
    expect(() => loadConfig({ ...links, ...env })).toThrow(ConfigError)
  })
})

describe('references inside each render', () => {
  it.each(OVERLAYS)(
    '%s: every ConfigMap and Secret a pod uses exists (prod: the database Secret is external)',
    (dir) => {
      const objects = renders[dir]!
      const missing = new Set<string>()
      for (const w of workloads(objects)) {
        const pod = podSpecOf(w)
        for (const c of pod.containers) {
          for (const e of containerEnv(objects, c).external) missing.add(e)
        }
        for (const v of pod.volumes ?? []) {
          const cm = (v.configMap as { name?: string } | undefined)?.name
          if (cm !== undefined && find(objects, 'ConfigMap', cm) === undefined)
            missing.add(`ConfigMap/${cm}`)
        }
      }
      expect([...missing]).toEqual(dir === 'overlays/prod' ? ['Secret/sturdy-example-db'] : [])
    },
  )

  it.each(OVERLAYS)('%s: Services select pods and target ports they have', (dir) => {
    const objects = renders[dir]!
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const spec = svc.spec as {
        selector: Record<string, string>
        ports: Array<{ targetPort: string | number }>
      }
      const pods = workloads(objects).filter((w) => {
        const labels = (w.spec as { template: { metadata: { labels: Record<string, string> } } })
          .template.metadata.labels
        return Object.entries(spec.selector).every(([k, v]) => labels[k] === v)
      })
      expect(
        pods.map((p) => p.metadata.name),
        `Service ${svc.metadata.name}`,
      ).toHaveLength(1)
      const ports = podSpecOf(pods[0]!).containers.flatMap((c) => c.ports ?? [])
      for (const p of spec.ports) {
        expect(
          ports.some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort),
          `${svc.metadata.name} → ${p.targetPort}`,
        ).toBe(true)
      }
    }
  })

  it.each(OVERLAYS)(
    '%s: autoscalers and disruption budgets point at Deployments that exist',
    (dir) => {
      const objects = renders[dir]!
      for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
        const ref = (hpa.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef
        expect(find(objects, ref.kind, ref.name)).toBeDefined()
        // No replicas on a Deployment its autoscaler owns: an apply would reset the count.
        expect(
          (find(objects, ref.kind, ref.name)!.spec as { replicas?: number }).replicas,
        ).toBeUndefined()
      }
      for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
        const sel = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector
          .matchLabels
        expect(find(objects, 'Deployment', sel['app.kubernetes.io/name']!)).toBeDefined()
      }
    },
  )

  it('payments and delivery keep state in memory: one replica, no autoscaler', () => {
    for (const dir of OVERLAYS) {
      for (const s of ['payments', 'delivery'] as const) {
        expect((deploymentOf(renders[dir]!, s).spec as { replicas: number }).replicas).toBe(1)
        expect(find(renders[dir]!, 'HorizontalPodAutoscaler', s)).toBeUndefined()
      }
    }
  })

  it('prod: the gateway scales on CPU and on in-flight requests per pod (prometheus-adapter)', () => {
    const hpa = find(renders['overlays/prod']!, 'HorizontalPodAutoscaler', 'gateway')!
    const metrics = (
      hpa.spec as { metrics: Array<{ type: string; pods?: { metric: { name: string } } }> }
    ).metrics
    expect(metrics.map((m) => m.type)).toEqual(['Resource', 'Pods'])
    expect(metrics[1]!.pods!.metric.name).toBe('http_server_active_requests')
    const adapter = readFileSync(
      `${K8S_DIR}/../observability/prometheus-adapter/rules.yaml`,
      'utf8',
    )
    expect(adapter).toContain('as: http_server_active_requests')
  })

  it('the ServiceMonitor selects the four services on their metrics port', () => {
    const objects = renders['overlays/prod']!
    const sm = find(objects, 'ServiceMonitor', 'sturdy-example')!
    const spec = sm.spec as {
      selector: {
        matchLabels: Record<string, string>
        matchExpressions: Array<{ values: string[] }>
      }
      endpoints: Array<{ port: string }>
    }
    const selected = objects.filter(
      (o) =>
        o.kind === 'Service' &&
        Object.entries(spec.selector.matchLabels).every(
          ([k, v]) => (o.metadata.labels as Record<string, string>)[k] === v,
        ) &&
        spec.selector.matchExpressions[0]!.values.includes(
          (o.metadata.labels as Record<string, string>)['app.kubernetes.io/name']!,
        ),
    )
    expect(selected.map((s) => s.metadata.name).sort()).toEqual([...APP_SERVICES].sort())
    for (const s of selected) {
      const ports = (s.spec as { ports: Array<{ name: string; port: number }> }).ports
      expect(ports.find((p) => p.name === spec.endpoints[0]!.port)?.port).toBe(9090)
    }
  })
})

describe('generated monitoring objects', () => {
  it('deploy/k8s/monitoring matches deploy/observability (run `pnpm --filter @sturdy/deploy sync`)', () => {
    for (const [path, content] of Object.entries(monitoringFiles())) {
      expect(readFileSync(path, 'utf8'), path).toBe(content)
    }
  })
})
