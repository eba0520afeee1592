// Attribution: @sturdy/metrics httpMetrics() alone, against @hono/prometheus.
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { Registry } from 'prom-client'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { sturdyStack } from '../lib/sturdy-stack.ts'

const { middleware, wiring } = sturdyStack(['metrics'], { registry: new Registry() })
serveHono(addRoute(new Hono().use(sturdy(...middleware))), wiring)
