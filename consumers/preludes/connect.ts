// Context for the fragments in packages/connect/README.md (see consumers/README.md).
// The blocks' `./gen/...` imports are consumers/fixtures/connect/gen, copied beside them.

import { sturdy } from '@sturdy/hono'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'

// The HTTP app of the "Client" block: a request deadline, whose signal and budget
// callContext(c) carries to the gRPC call.
const app = new Hono().use(sturdy(deadline({ budgetMs: 2000 })))
