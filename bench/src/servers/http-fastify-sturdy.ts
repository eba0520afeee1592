// Contender: Fastify 5 + Sturdy through @sturdy/fastify, the same concerns as the
// Fastify anchor stack (request id + logging, metrics).
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { addFastifyRoute, serveFastify } from '../lib/fastify-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'
import { sturdyStack } from '../lib/sturdy-stack.ts'

const { middleware, wiring } = sturdyStack(['logger', 'metrics'], {
  logger: fileLogger(),
  registry: new Registry(),
})
const adapter = wiring.factory('fastify', ['sturdy'])
const app = Fastify()
if (adapter !== undefined) {
  // A Fastify plugin, registered with its options: register(sturdy, { middleware }).
  await app.register(adapter, { middleware })
  wiring.use('@sturdy/fastify sturdy()')
}
await serveFastify(addFastifyRoute(app), wiring, () => ({ logBytes: logBytes() }))
