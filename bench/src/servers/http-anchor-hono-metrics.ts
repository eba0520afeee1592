// Attribution: @hono/prometheus with its own registry, the anchor for @sturdy/metrics.
import { prometheus } from '@hono/prometheus'
import { Hono } from 'hono'
import { Registry } from 'prom-client'
import { addRoute, serveHono } from '../lib/hono-app.ts'

const { registerMetrics } = prometheus({ registry: new Registry() })
serveHono(addRoute(new Hono().use(registerMetrics)), { missing: [], stack: ['@hono/prometheus'] })
