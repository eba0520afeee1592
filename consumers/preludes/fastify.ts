// Context for the fragments in packages/fastify/README.md (see consumers/README.md).

import { sturdy } from '@sturdy/fastify'
import { requestLogger } from '@sturdy/logger'
import { httpMetrics } from '@sturdy/metrics'
import { deadline } from '@sturdy/timeout'
import { tracing } from '@sturdy/tracing'
import Fastify, { type RouteHandlerMethod } from 'fastify'
import { pino } from 'pino'
import { Registry } from 'prom-client'

const app = Fastify()
const logger = pino()
const registry = new Registry()
const handler: RouteHandlerMethod = async () => ({ ok: true })
