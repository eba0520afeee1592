// Context for the fragments in packages/hono/README.md (see consumers/README.md).

import { sturdy } from '@sturdy/hono'
import { deadline } from '@sturdy/timeout'
import { Hono } from 'hono'
