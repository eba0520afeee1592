import { resolve } from 'node:path'

/** deploy/ */
export const DEPLOY_DIR: string = resolve(import.meta.dirname, '..')
/** The repository root (the image's build context). */
export const REPO_DIR: string = resolve(DEPLOY_DIR, '..')
/** deploy/k8s */
export const K8S_DIR: string = resolve(DEPLOY_DIR, 'k8s')
/** deploy/observability */
export const OBSERVABILITY_DIR: string = resolve(DEPLOY_DIR, 'observability')
/** The Prometheus rules (source of deploy/k8s/monitoring/prometheus-rule.yaml). */
export const RULES_FILE: string = resolve(OBSERVABILITY_DIR, 'prometheus/rules.yml')
/** The Grafana dashboard (source of deploy/k8s/monitoring/grafana-dashboard.yaml). */
export const DASHBOARD_FILE: string = resolve(OBSERVABILITY_DIR, 'grafana/sturdy-example.json')
/** prometheus-adapter's rules for the custom-metric HPA. */
export const ADAPTER_FILE: string = resolve(OBSERVABILITY_DIR, 'prometheus-adapter/rules.yaml')
/** The kustomizations rendered and validated. */
export const KUSTOMIZATIONS: readonly string[] = [
  'base',
  'monitoring',
  'overlays/dev',
  'overlays/prod',
]
