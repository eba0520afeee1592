// Attribution: @sturdy/timeout deadline() alone, against hono/timeout.
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { sturdyStack } from '../lib/sturdy-stack.ts'

const { middleware, wiring } = sturdyStack(['deadline'], {})
serveHono(addRoute(new Hono().use(sturdy(...middleware))), wiring)
