// Context for the fragments in packages/metrics/README.md (see consumers/README.md).

import { sturdy } from '@sturdy/hono'
import { httpMetrics, metricsEndpoint, policyMetrics } from '@sturdy/metrics'
import { Hono } from 'hono'
import { Registry } from 'prom-client'

const registry = new Registry()
const app = new Hono()
const policies = policyMetrics({ registry })
