import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { containerEnv, find, podSpecOf, render } from './manifests.ts'
import { K8S_DIR } from './paths.ts'

// No collector binary can be installed here (neither npm nor Debian ships one), so its
// configuration is checked for what a collector checks first: every component a
// pipeline names is defined, every defined one is used, and the ports agree with the
// Deployment, the Service and the app's OTLP endpoint. Component names are the ones
// the contrib distribution documents.
const config = parseYaml(
  readFileSync(join(K8S_DIR, 'base/otel-collector/config.yaml'), 'utf8'),
) as {
  extensions: Record<string, { endpoint: string }>
  receivers: { otlp: { protocols: { grpc: { endpoint: string }; http: { endpoint: string } } } }
  processors: Record<string, unknown>
  exporters: Record<string, Record<string, unknown>>
  service: {
    extensions: string[]
    pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }>
  }
}
const objects = render('overlays/dev')
const KNOWN = {
  receivers: ['otlp'],
  processors: ['memory_limiter', 'batch'],
  exporters: ['debug', 'otlp', 'otlphttp'],
  extensions: ['health_check'],
}
const port = (endpoint: string) => Number(endpoint.split(':').at(-1))

describe('OpenTelemetry Collector configuration', () => {
  it('OTLP in; debug and OTLP exporters out; memory_limiter first', () => {
    const traces = config.service.pipelines.traces!
    expect(traces.receivers).toEqual(['otlp'])
    expect(traces.exporters).toEqual(['debug', 'otlp'])
    expect(traces.processors[0]).toBe('memory_limiter')
    for (const [kind, names] of Object.entries(KNOWN)) {
      const defined = Object.keys((config as unknown as Record<string, object>)[kind]!)
      for (const name of defined) expect(names, `${kind}.${name}`).toContain(name.split('/')[0])
    }
  })

  it('every component a pipeline names is defined, and every defined one is used', () => {
    const used = {
      receivers: new Set<string>(),
      processors: new Set<string>(),
      exporters: new Set<string>(),
    }
    for (const p of Object.values(config.service.pipelines)) {
      for (const kind of ['receivers', 'processors', 'exporters'] as const) {
        for (const name of p[kind]) {
          expect(Object.keys(config[kind]), `${kind}.${name}`).toContain(name)
          used[kind].add(name)
        }
      }
    }
    for (const kind of ['receivers', 'processors', 'exporters'] as const) {
      expect([...used[kind]].sort()).toEqual(Object.keys(config[kind]).sort())
    }
    expect(config.service.extensions.sort()).toEqual(Object.keys(config.extensions).sort())
  })

  it('ports agree: receivers, health check, container, Service, and the app’s endpoint', () => {
    const deployment = find(objects, 'Deployment', 'otel-collector')!
    const pod = podSpecOf(deployment)
    const c = pod.containers[0]!
    const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]))
    expect(port(config.receivers.otlp.protocols.grpc.endpoint)).toBe(ports['otlp-grpc'])
    expect(port(config.receivers.otlp.protocols.http.endpoint)).toBe(ports['otlp-http'])
    expect(port(config.extensions.health_check!.endpoint)).toBe(ports.health)
    expect(c.readinessProbe?.httpGet?.port).toBe('health')
    // The config file is mounted where the args say.
    const volume = pod.volumes?.find((v) => v.name === 'config') as { configMap: { name: string } }
    const cm = find(objects, 'ConfigMap', volume.configMap.name)!
    expect(Object.keys(cm.data as object)).toEqual(['config.yaml'])
    expect((cm.data as Record<string, string>)['config.yaml']).toBe(
      readFileSync(join(K8S_DIR, 'base/otel-collector/config.yaml'), 'utf8'),
    )
    expect((c as unknown as { args: string[] }).args).toEqual(['--config=/conf/config.yaml'])
    // Environment the config reads.
    const { env } = containerEnv(objects, c)
    for (const m of readFileSync(join(K8S_DIR, 'base/otel-collector/config.yaml'), 'utf8').matchAll(
      /\$\{env:([A-Z_]+)\}/g,
    )) {
      expect(env[m[1]!], m[1]).toBeDefined()
    }
    // The services send OTLP/HTTP to the collector's Service.
    const svc = find(objects, 'Service', 'otel-collector')!
    const httpPort = (svc.spec as { ports: Array<{ name: string; port: number }> }).ports.find(
      (p) => p.name === 'otlp-http',
    )!.port
    const app = containerEnv(
      objects,
      podSpecOf(find(objects, 'Deployment', 'gateway')!).containers[0]!,
    ).env
    expect(app.OTEL_EXPORTER_OTLP_ENDPOINT).toBe(`http://otel-collector:${httpPort}`)
  })
})
