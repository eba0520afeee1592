// Context for the fragments in packages/express/README.md (see consumers/README.md).

import { sturdy, sturdyErrors } from '@sturdy/express'
import { requestLogger } from '@sturdy/logger'
import { deadline } from '@sturdy/timeout'
import { tracing } from '@sturdy/tracing'
import express from 'express'
import { pino } from 'pino'

const app = express()
const logger = pino()
