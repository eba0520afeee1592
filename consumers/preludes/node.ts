// Context for the fragments in packages/node/README.md (see consumers/README.md).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { UNMATCHED_ROUTE } from '@sturdy/core'
import { requestLogger } from '@sturdy/logger'
import { NodeExchange, sturdy } from '@sturdy/node'
import { deadline } from '@sturdy/timeout'
import { tracing } from '@sturdy/tracing'
import { pino } from 'pino'

const logger = pino()
function listener(_req: IncomingMessage, res: ServerResponse): void {
  res.end('ok')
}
const myRouter = {
  matchedTemplate: (_req: IncomingMessage): string | undefined => undefined,
}
// A listener's request and response, where a fragment uses them outside a listener.
declare const req: IncomingMessage
declare const res: ServerResponse
