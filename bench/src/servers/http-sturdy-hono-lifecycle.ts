// Attribution: @sturdy/lifecycle's middleware alone (probe paths checked, every request
// tracked in flight so the drain can answer it), against one empty Hono middleware.
import { sturdy } from '@sturdy/hono'
import { Hono } from 'hono'
import { addRoute, serveHono } from '../lib/hono-app.ts'
import { Wiring } from '../lib/sturdy.ts'

const wiring = new Wiring()
const lifecycle = wiring.factory('lifecycle', ['lifecycle'])
const app = new Hono()
if (lifecycle !== undefined) {
  wiring.use('@sturdy/lifecycle middleware()')
  const life = lifecycle({ exit: () => {}, logger: { info() {}, warn() {}, error() {} } })
  app.use(sturdy(life.middleware()))
}
serveHono(addRoute(app), wiring)
