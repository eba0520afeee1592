import type { FrameworkAdapter } from '../harness.ts'
import { express4Adapter, expressAdapter } from './express.ts'
import { fastifyAdapter } from './fastify.ts'
import { hono } from './hono.ts'
import { nodeAdapter } from './node.ts'

/** Every framework the suite runs against. A new adapter joins by adding itself here. */
export const adapters: readonly FrameworkAdapter[] = [
  hono,
  expressAdapter,
  express4Adapter,
  fastifyAdapter,
  nodeAdapter,
]
