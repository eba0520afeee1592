// Contender: Fastify 5 with its own pino logger (to a file) + fastify-metrics, as
// documented: Fastify({ logger: { stream } }) — what `logger: { file }` builds, a
// pino.destination(file) — and register(metricsPlugin, { endpoint }).
import Fastify from 'fastify'
import metricsPlugin from 'fastify-metrics'
import { addFastifyRoute, serveFastify } from '../lib/fastify-app.ts'
import { fileDestination, logBytes } from '../lib/log.ts'

const app = Fastify({ logger: { stream: fileDestination() } })
await app.register(metricsPlugin, { endpoint: '/metrics' })
await serveFastify(
  addFastifyRoute(app),
  { missing: [], stack: ['fastify logger', 'fastify-metrics'] },
  () => ({ logBytes: logBytes() }),
)
