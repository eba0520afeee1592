// Contender: Express 5 + Sturdy through @sturdy/express, the same concerns as the Express
// anchor stack (request id + logging, metrics).
import express from 'express'
import { Registry } from 'prom-client'
import { addExpressRoute, serveExpress } from '../lib/express-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'
import { sturdyStack } from '../lib/sturdy-stack.ts'

const { middleware, wiring } = sturdyStack(['logger', 'metrics'], {
  logger: fileLogger(),
  registry: new Registry(),
})
const adapter = wiring.factory('express', ['sturdy'])
const app = express()
if (adapter !== undefined) {
  app.use(adapter(...middleware))
  wiring.use('@sturdy/express sturdy()')
}
serveExpress(addExpressRoute(app), wiring, () => ({ logBytes: logBytes() }))
