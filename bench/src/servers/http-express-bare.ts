// Reference: bare Express 5.
import express from 'express'
import { addExpressRoute, serveExpress } from '../lib/express-app.ts'

serveExpress(addExpressRoute(express()), { missing: [], stack: ['express'] })
