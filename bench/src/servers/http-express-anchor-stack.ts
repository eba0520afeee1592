// Contender: Express 5 + pino-http (to a file) + express-prom-bundle, each as documented:
// pinoHttp({ logger }) and promBundle({ includeMethod, includePath }) with its own registry.
import express from 'express'
import promBundle from 'express-prom-bundle'
import { pinoHttp } from 'pino-http'
import { Registry } from 'prom-client'
import { addExpressRoute, serveExpress } from '../lib/express-app.ts'
import { fileLogger, logBytes } from '../lib/log.ts'

const app = express()
app.use(pinoHttp({ logger: fileLogger() }))
app.use(promBundle({ includeMethod: true, includePath: true, promRegistry: new Registry() }))
serveExpress(
  addExpressRoute(app),
  { missing: [], stack: ['pino-http', 'express-prom-bundle'] },
  () => ({ logBytes: logBytes() }),
)
